"""DMA buffers through pydmak.allocate(): memory, mappings, addresses."""

import errno
import gc

import numpy as np
import pytest

import pydmak
from conftest import live_buffers

KINDS = [False, True]           # cacheable
KIND_IDS = ["coherent", "cached"]
PAGE = 4096


def largest_buffer(dev, cached):
    """The largest power-of-two buffer the kernel grants, found by trying."""
    size = 1 << 20
    while True:
        try:
            raw = dev.alloc(size * 2, cached=cached)
        except pydmak.DmakError as exc:
            assert exc.errno == errno.ENOMEM, exc
            return size
        dev.free(raw.handle)
        size *= 2


@pytest.mark.parametrize("cacheable", KINDS, ids=KIND_IDS)
def test_sizes_from_one_byte_to_the_largest(dev, cacheable):
    largest = largest_buffer(dev, cacheable)
    assert largest >= 4 << 20
    rng = np.random.default_rng(1)
    sizes = [1, 2, 3, 7, 63, 4095, 4096, 4097, 65537, (1 << 20) + 5, largest]
    for size in sizes:
        buf = pydmak.allocate(size, dtype="u1", cacheable=cacheable,
                              device=dev)
        assert buf.shape == (size,) and buf.nbytes == size
        assert not buf.any(), "a new buffer must come zeroed"
        data = rng.integers(0, 256, size, dtype=np.uint8)
        buf[:] = data
        buf.flush()
        buf.invalidate()
        assert np.array_equal(buf, data)
        assert buf.physical_address % PAGE == 0
        assert buf.cacheable is cacheable
        assert live_buffers()[0] == 1
        buf.freebuffer()
        del buf
        gc.collect()
        assert live_buffers() == (0, 0)


@pytest.mark.parametrize("cacheable", KINDS, ids=KIND_IDS)
def test_second_mapping_sees_the_same_memory(dev, cacheable):
    raw = dev.alloc(3 * PAGE + 12, cached=cacheable)
    first, second = dev.mmap(raw), dev.mmap(raw)
    a = np.frombuffer(first, dtype=np.uint32)
    b = np.frombuffer(second, dtype=np.uint32)
    a[:] = np.arange(a.size, dtype=np.uint32) * 2654435761
    assert np.array_equal(a, b)
    del a, b
    first.close()
    second.close()
    dev.free(raw.handle)


def test_buffers_do_not_overlap(dev):
    bufs = [pydmak.allocate(5000, dtype="u1", device=dev) for _ in range(8)]
    spans = sorted((b.physical_address, b.physical_address + b.nbytes)
                   for b in bufs)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end <= start
    for i, b in enumerate(bufs):
        b[:] = i
    for i, b in enumerate(bufs):
        assert (b == i).all()


def test_shapes_and_dtypes(dev):
    for shape, dtype in [((4, 5), "f8"), ((3, 2, 7), "i2"), (9, "c16"),
                         ((2, 3), [("a", "u4"), ("b", "f4")])]:
        buf = pydmak.allocate(shape, dtype=dtype, device=dev)
        assert buf.shape == (shape if isinstance(shape, tuple) else (shape,))
        assert buf.dtype == np.dtype(dtype)
        assert isinstance(buf, pydmak.DMABuffer)
        buf.freebuffer()


def test_views_report_their_own_address(dev):
    buf = pydmak.allocate((16, 32), dtype="u4", device=dev)
    base = buf.physical_address
    assert buf.device_address == base
    assert buf[1].physical_address == base + 32 * 4
    assert buf[2:, 5:].physical_address == base + (2 * 32 + 5) * 4
    assert buf[::-1].physical_address == base + 15 * 32 * 4
    assert buf.T.physical_address == base
    flat = buf.reshape(-1)
    assert flat[100:].physical_address == base + 400
    assert flat.view(np.uint8)[3:].physical_address == base + 3
    buf[2:, 5:].flush()
    buf[::-1].invalidate()


def test_arrays_numpy_makes_are_not_dma_buffers(dev):
    buf = pydmak.allocate(64, dtype="u4", device=dev)
    buf[:] = 7
    for other in (buf + 1, buf.copy(), np.sqrt(buf)):
        assert isinstance(other, np.ndarray)
        with pytest.raises(ValueError, match="does not live in a DMA buffer"):
            other.physical_address
        other.freebuffer()          # frees nothing of buf
    assert (buf == 7).all()
    assert buf.physical_address > 0


def test_freebuffer_while_views_are_alive(dev):
    buf = pydmak.allocate(10000, dtype="u2", device=dev)
    view = buf[100:200]
    buf[:] = 3
    assert live_buffers() == (1, 20480)
    buf.freebuffer()
    assert live_buffers() == (0, 0)     # released at once, views or not
    assert dev.info.buf_used == 0
    buf.freebuffer()                    # idempotent
    assert (view == 0).all()            # views stay valid, contents gone
    view[:] = 9
    assert (buf[100:200] == 9).all()
    with pytest.raises(ValueError, match="freed"):
        view.physical_address


def test_freebuffer_of_a_view_frees_the_buffer(dev):
    buf = pydmak.allocate((8, 8), device=dev)
    buf[2:4].freebuffer()
    assert live_buffers() == (0, 0)
    with pytest.raises(ValueError, match="freed"):
        buf.physical_address


def test_unreferenced_buffer_is_given_back(dev):
    pydmak.allocate(1 << 16, device=dev)[:] = 1
    gc.collect()
    assert live_buffers() == (0, 0)
    assert dev.info.buf_used == 0


def test_context_manager_frees(dev):
    with pydmak.allocate(100, device=dev) as buf:
        buf[:] = 5
        assert dev.info.buf_used == PAGE
    assert dev.info.buf_used == 0


def test_closing_the_device_with_buffers_mapped():
    dev = pydmak.Device(0)
    bufs = [pydmak.allocate(3000, dtype="u1", cacheable=c, device=dev)
            for c in (False, True)]
    for i, b in enumerate(bufs):
        b[:] = i + 1
    dev.close()
    dev.close()                     # idempotent
    with pytest.raises(ValueError, match="closed"):
        dev.fileno()
    for i, b in enumerate(bufs):    # the mappings keep the memory
        assert (b == i + 1).all()
        b[:] = 42
    assert live_buffers() == (2, 8192)
    bufs[0].freebuffer()            # unmaps: that buffer goes at once
    assert live_buffers() == (1, 4096)
    del bufs, b
    gc.collect()                    # the last mapping goes: so does the rest
    assert live_buffers() == (0, 0)


def test_default_device_is_the_first():
    buf = pydmak.allocate(8)
    assert buf.device.path == "/dev/dmak0"
    assert [d.path for d in pydmak.devices()] == ["/dev/dmak0"]
