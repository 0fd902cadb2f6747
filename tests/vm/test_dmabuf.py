"""One buffer, any DMA: buffers exported as dma-bufs and imported by other
dmak devices (DMAK_IOC_EXPORT / DMAK_IOC_IMPORT).

The module reloads the simulator with ``instances=2 sg=0,1``: dmak0 is a
direct-mode IP, dmak1 an SG IP, each with its own struct device, so a
buffer of one is mapped for the other through the dma-buf attachment.
"""

import errno
import mmap
import os

import numpy as np
import pytest

import pydmak
from pydmak import _uapi
from pydmak._libc import ioctl
from conftest import (assert_buffers_returned, live_buffers, sim_set,
                      wait_for)

DIRECT, SG = 0, 1


@pytest.fixture(autouse=True)
def no_leaked_buffers_anywhere(direct_and_sg):
    """Both instances get back every buffer, imported ones included."""
    yield
    assert_buffers_returned(DIRECT, SG)


@pytest.fixture
def both():
    """``(dev0, dma0, dev1, dma1)``: an open file of each instance."""
    dev0, dev1 = pydmak.Device(DIRECT), pydmak.Device(SG)
    dma0, dma1 = pydmak.DMA(dev0), pydmak.DMA(dev1)
    yield dev0, dma0, dev1, dma1
    sim_set("bandwidth", 0, SG)
    for dma in (dma0, dma1):
        if dma.sendchannel.error or dma.recvchannel.error:
            dma.sendchannel.reset()
        dma.close()
    dev0.close()
    dev1.close()


def pattern(n, seed):
    return np.random.default_rng(seed).integers(0, 256, n, np.uint8)


def loopback(dma, src, dst, nbytes=0):
    dma.recvchannel.transfer(dst, 0, nbytes)
    dma.sendchannel.transfer(src, 0, nbytes)
    dma.sendchannel.wait(10)
    return dma.recvchannel.wait(10)


def _errno(fn):
    with pytest.raises(OSError) as exc:
        fn()
    return exc.value.errno


# -- one buffer through both DMAs ---------------------------------------------

@pytest.mark.parametrize("cached", [False, True], ids=["coherent", "cached"])
def test_one_buffer_through_both_dmas(both, cached):
    """A buffer of dmak0 is sent by dmak1 and received into by dmak1 and
    dmak0 again: no copies, the same memory everywhere."""
    dev0, dma0, dev1, dma1 = both
    n = 50_000
    a = pydmak.allocate(n, "u1", cacheable=cached, device=dev0)
    b = pydmak.allocate(n, "u1", cacheable=cached, device=dev1)
    a[:] = pattern(n, 1)
    if cached:
        a.flush()
    assert loopback(dma1, a, b) == n         # a imported into dmak1
    if cached:
        b.invalidate()
    assert np.array_equal(a, b)
    assert live_buffers(SG)[0] == 2          # b, and a as imported
    a[:] = 0
    b[:] = pattern(n, 2)
    if cached:
        a.flush()
        b.flush()
    assert loopback(dma0, b, a) == n         # b imported into dmak0
    if cached:
        a.invalidate()
    assert np.array_equal(a, b)
    # The import is made once per device and buffer.
    assert loopback(dma1, a, b) == n
    assert live_buffers(SG)[0] == 2
    a.freebuffer()                           # its imports go too
    assert wait_for(lambda: live_buffers(SG)[0] == 1)
    b.freebuffer()


@pytest.mark.parametrize("cached", [False, True], ids=["coherent", "cached"])
def test_a_buffer_imported_by_its_own_device(both, cached):
    """A buffer's dma-buf imported again by the device it belongs to: the
    import takes the buffer's own bus address (no second mapping), and
    the original handle and the import both move data, whole and in
    parts, every byte checked."""
    dev0, dma0, _, _ = both
    n = 5 * 4096
    buf = pydmak.allocate(n, "u1", device=dev0, cacheable=cached)
    buf[:] = pattern(n, 11)
    fd = buf.export()
    try:
        again = pydmak.from_dmabuf(fd, n, device=dev0)
    finally:
        os.close(fd)
    assert again.physical_address == buf.physical_address
    dst = pydmak.allocate(n, "u1", device=dev0)
    assert loopback(dma0, again, dst) == n
    assert np.array_equal(dst, pattern(n, 11))
    dst[:] = 0
    assert loopback(dma0, buf, dst, 64) == 64       # a part of the original
    assert np.array_equal(dst[:64], pattern(n, 11)[:64])
    for b in (again, buf, dst):
        b.freebuffer()


def test_a_gather_of_buffers_from_both_devices(both):
    dev0, dma0, dev1, dma1 = both
    p0 = pydmak.allocate(4096, "u1", device=dev0)
    p1 = pydmak.allocate(1000, "u1", device=dev1)
    dst = pydmak.allocate(5096, "u1", device=dev0)
    p0[:] = pattern(4096, 3)
    p1[:] = pattern(1000, 4)
    dma1.recvchannel.transfer(dst)
    dma1.sendchannel.transfer([p0, p1])       # one packet, two devices
    dma1.sendchannel.wait(10)
    assert dma1.recvchannel.wait(10) == 5096
    assert np.array_equal(dst, np.concatenate([p0, p1]))
    for buf in (p0, p1, dst):
        buf.freebuffer()


def test_capture_into_a_buffer_of_the_other_device(both):
    """A cyclic capture on dmak1 fills slots of a buffer of dmak0."""
    dev0, dma0, dev1, dma1 = both
    buf = pydmak.allocate((4, 256), "u4", device=dev0)
    src = pydmak.allocate((3, 256), "u4", device=dev1)
    src[:] = np.arange(3 * 256, dtype=np.uint32).reshape(3, 256)
    with dma1.recvchannel.stream(buf, 4, timeout=10) as frames:
        dma1.sendchannel.transfer_many([src[i] for i in range(3)])
        for i in range(3):
            slot = next(frames)
            assert np.array_equal(slot, src[i])
            assert np.array_equal(buf[i], src[i])
    dma1.sendchannel.wait(10)
    del slot
    buf.freebuffer()
    src.freebuffer()


# -- lifetime -----------------------------------------------------------------

def test_closing_the_exporter_while_the_importer_transfers(both):
    """dmak0's file and its buffer go while dmak1 still reads the buffer
    (a slow stream); the memory stays until the transfer ended, the bytes
    arrive whole, and then everything is given back."""
    dev0, dma0, dev1, dma1 = both
    other = pydmak.Device(DIRECT)
    n = 1 << 20
    src = pydmak.allocate(n, "u1", device=other)
    dst = pydmak.allocate(n, "u1", device=dev1, cacheable=True)
    expect = pattern(n, 5)
    src[:] = expect
    sim_set("bandwidth", 4_000_000, SG)       # a quarter of a second
    dma1.recvchannel.transfer(dst)
    dma1.sendchannel.transfer(src)
    src.freebuffer()                          # the exporter lets go ...
    other.close()                             # ... and closes its file
    assert live_buffers(DIRECT)[0] == 1       # the dma-buf holds it
    assert dma1.sendchannel.queued == 1       # still running
    dma1.sendchannel.wait(10)
    assert dma1.recvchannel.wait(10) == n
    dst.invalidate()
    assert np.array_equal(dst, expect)
    assert wait_for(lambda: live_buffers(DIRECT) == (0, 0))
    dst.freebuffer()


def test_an_exported_fd_outlives_the_buffer_and_maps_it(both):
    dev0, dma0, dev1, dma1 = both
    n = 3 * 4096
    buf = pydmak.allocate(n, "u1", device=dev0)
    buf[:] = pattern(n, 6)
    fd = buf.export()
    try:
        assert os.get_inheritable(fd) is False       # O_CLOEXEC
        with pytest.raises(OSError) as exc:           # copy-on-write
            mmap.mmap(fd, n, mmap.MAP_PRIVATE)
        assert exc.value.errno == errno.EINVAL
        with mmap.mmap(fd, n) as m:
            seen = np.frombuffer(m, np.uint8)
            assert np.array_equal(seen, buf)
            m[:4] = b"dmak"
            assert bytes(buf[:4]) == b"dmak"
            del seen
        buf.freebuffer()
        assert live_buffers(DIRECT)[0] == 1          # the fd holds it
        # Another device takes the fd itself.
        other = pydmak.from_dmabuf(fd, n, device=dev1)
        assert bytes(other[:4]) == b"dmak"
        dst = pydmak.allocate(n, "u1", device=dev1)
        assert loopback(dma1, other, dst) == n
        assert np.array_equal(dst, other)
        other.freebuffer()
        dst.freebuffer()
    finally:
        os.close(fd)
    assert wait_for(lambda: live_buffers(DIRECT) == (0, 0))


def test_from_dmabuf_shape_and_size(both):
    dev0, dma0, dev1, dma1 = both
    buf = pydmak.allocate(8192, "u1", device=dev0)
    fd = buf.export()
    try:
        view = pydmak.from_dmabuf(fd, (2, 1024), "u4", device=dev1)
        assert view.shape == (2, 1024) and view.dtype == np.uint32
        assert view.cacheable
        with pytest.raises(ValueError, match="the dma-buf has 8192"):
            pydmak.from_dmabuf(fd, 8193, device=dev1)
        with pytest.raises(TypeError, match="fd must be an int"):
            pydmak.from_dmabuf("3", 16, device=dev1)
        view.freebuffer()
    finally:
        os.close(fd)
    buf.freebuffer()


# -- bad requests -------------------------------------------------------------

def test_bad_exports_and_imports(both):
    dev0, dma0, dev1, dma1 = both
    buf = pydmak.allocate(4096, "u1", device=dev0)
    handle = buf._dmak.raw.handle

    def export(**f):
        ioctl(dev0.fileno(), _uapi.IOC_EXPORT, _uapi.dmak_export(**f))

    def import_(dev, **f):
        arg = _uapi.dmak_import(**f)
        ioctl(dev.fileno(), _uapi.IOC_IMPORT, arg)
        return arg

    assert _errno(lambda: export(handle=handle, flags=1)) == errno.EINVAL
    assert _errno(lambda: export(handle=handle, reserved=1)) == errno.EINVAL
    assert _errno(lambda: export(handle=0xFFFF)) == errno.ENOENT
    with pydmak.Device(DIRECT) as stranger:       # not its buffer
        assert _errno(lambda: ioctl(
            stranger.fileno(), _uapi.IOC_EXPORT,
            _uapi.dmak_export(handle=handle))) == errno.ENOENT
    r, w = os.pipe()
    try:
        assert _errno(lambda: import_(dev1, fd=r)) == errno.EINVAL
    finally:
        os.close(r)
        os.close(w)
    assert _errno(lambda: import_(dev1, fd=-1)) == errno.EBADF
    assert _errno(lambda: import_(dev1, fd=9999)) == errno.EBADF
    fd = buf.export()
    try:
        assert _errno(lambda: import_(dev1, fd=fd, flags=2)) == errno.EINVAL
        got = import_(dev1, fd=fd)
        assert got.size == 4096 and got.handle
        # An imported buffer is exported as the dma-buf it came from.
        again = dev1.export(got.handle)
        try:
            assert os.fstat(again).st_ino == os.fstat(fd).st_ino
        finally:
            os.close(again)
        dev1.free(got.handle)
    finally:
        os.close(fd)
    with pytest.raises(pydmak.DmakError, match="not a dma-buf") as exc:
        r, w = os.pipe()
        try:
            dev1.import_dmabuf(r)
        finally:
            os.close(r)
            os.close(w)
    assert exc.value.errno == errno.EINVAL
    buf.freebuffer()
