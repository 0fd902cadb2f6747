"""Direct-mode transfers through the simulated loopback: every byte checked."""

import ctypes
import dataclasses
import errno

import numpy as np
import pytest

import pydmak
from pydmak import _uapi
from pydmak._libc import ioctl

RNG = np.random.default_rng(7)


def _fill(buf):
    raw = buf.view(np.uint8).reshape(-1)
    raw[:] = RNG.integers(0, 256, raw.size, dtype=np.uint8)


def _loop(dma, src, dst, nbytes=0, start=0, timeout=30):
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src, start, nbytes)
    dma.sendchannel.wait(timeout)
    return dma.recvchannel.wait(timeout)


@pytest.mark.parametrize("src_cached,dst_cached", [(False, False),
                                                   (True, True),
                                                   (False, True)])
def test_sizes(dma, dev, src_cached, dst_cached):
    for nbytes in [1, 3, 4, 7, 64, 1000, 4096, 65540, (1 << 20) + 12,
                   3 << 20]:
        src = pydmak.allocate(nbytes, "u1", cacheable=src_cached,
                              device=dev)
        dst = pydmak.allocate(nbytes, "u1", cacheable=dst_cached,
                              device=dev)
        _fill(src)
        assert _loop(dma, src, dst) == nbytes
        assert dma.recvchannel.transferred == nbytes
        assert np.array_equal(src, dst), nbytes
        src.freebuffer()
        dst.freebuffer()


@pytest.mark.parametrize("dtype", ["u1", "i2", "u4", "f4", "f8", "c16"])
def test_dtypes_and_start_offsets(dma, dev, dtype):
    src = pydmak.allocate((64, 33), dtype, device=dev)
    dst = pydmak.allocate((64, 33), dtype, device=dev)
    _fill(src)
    for start in (0, 4, 8, 100, src.nbytes - 4):
        dst[...] = 0
        n = src.nbytes - start
        dma.recvchannel.transfer(dst, start)
        dma.sendchannel.transfer(src, start)
        dma.sendchannel.wait(10)
        assert dma.recvchannel.wait(10) == n
        raw_src = src.view(np.uint8).reshape(-1)
        raw_dst = dst.view(np.uint8).reshape(-1)
        assert np.array_equal(raw_src[start:], raw_dst[start:])
        assert not raw_dst[:start].any()


def test_views_and_nbytes(dma, dev):
    src = pydmak.allocate((8, 1024), "u4", device=dev)
    dst = pydmak.allocate((8, 1024), "u4", device=dev)
    _fill(src)
    dma.recvchannel.transfer(dst[2])
    dma.sendchannel.transfer(src[5], 0, 2048)
    dma.sendchannel.wait(10)
    assert dma.recvchannel.wait(10) == 2048
    assert np.array_equal(dst[2, :512], src[5, :512])
    assert not dst[2, 512:].any() and not dst[:2].any()


def test_short_packet_reports_what_arrived(dma, dev):
    src = pydmak.allocate(10000, "u1", device=dev)
    dst = pydmak.allocate(10000, "u1", device=dev)
    _fill(src)
    dst[:] = 0xEE
    assert _loop(dma, src, dst, nbytes=1234) == 1234
    assert np.array_equal(dst[:1234], src[:1234])
    assert (dst[1234:] == 0xEE).all()


def test_many_transfers_queued_before_any_wait(dma, dev):
    n = 40
    srcs = [pydmak.allocate(1000 + 8 * i, "u1", device=dev) for i in range(n)]
    dsts = [pydmak.allocate(2000, "u1", device=dev) for _ in range(n)]
    for s in srcs:
        _fill(s)
    for d in dsts:
        dma.recvchannel.transfer(d)
    seqs = [dma.sendchannel.transfer(s) for s in srcs]
    assert seqs == sorted(seqs) and len(set(seqs)) == n
    dma.sendchannel.wait(30)
    assert dma.recvchannel.wait(30) == srcs[-1].nbytes
    for s, d in zip(srcs, dsts):
        assert np.array_equal(d[:s.nbytes], s)


def test_paired_batch(dma, dev):
    src = pydmak.allocate(5000, "u1", device=dev)
    dst = pydmak.allocate(5000, "u1", device=dev)
    _fill(src)
    dma.loopback(src, dst)
    dma.sendchannel.wait(10)
    assert dma.recvchannel.wait(10) == 5000
    assert np.array_equal(src, dst)


def test_wait_with_nothing_queued_returns(dma):
    assert dma.recvchannel.wait(0) == 0
    assert dma.sendchannel.wait() == 0


def test_channel_state(dma, dev):
    assert dma.buffer_max_size == (1 << 26) - 1
    assert dma.sendchannel.error is None
    src = pydmak.allocate(100, "u1", device=dev)
    dst = pydmak.allocate(100, "u1", device=dev)
    _loop(dma, src, dst)
    assert dma.sendchannel.running and dma.recvchannel.running
    assert dma.sendchannel.idle and dma.recvchannel.idle
    assert dma.sendchannel.queued == 0
    dma.sendchannel.stop()
    assert not dma.sendchannel.running
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src)
    with pytest.raises(pydmak.DMATimeoutError):
        dma.sendchannel.wait(0.3)            # stopped: it waits
    assert dma.sendchannel.queued == 1
    dma.sendchannel.start()
    dma.sendchannel.wait(10)
    assert dma.recvchannel.wait(10) == 100


def test_bad_arguments_are_refused_before_anything_queues(dma, dev):
    buf = pydmak.allocate(4096, "u1", device=dev)
    send = dma.sendchannel
    with pytest.raises(TypeError, match="pydmak.allocate"):
        send.transfer(np.zeros(16, np.uint8))
    with pytest.raises(TypeError, match="start"):
        send.transfer(buf, 1.0)
    with pytest.raises(ValueError, match="negative"):
        send.transfer(buf, 0, -1)
    with pytest.raises(ValueError, match="passes the array"):
        send.transfer(buf, 4000, 200)
    with pytest.raises(ValueError, match="past the array"):
        send.transfer(buf, 5000)
    with pytest.raises(ValueError, match="multiple of 4"):
        send.transfer(buf, 2)
    with pytest.raises(ValueError, match="contiguous"):
        send.transfer(buf.reshape(64, 64)[:, :8])
    with pytest.raises(ValueError, match="timeout"):
        send.wait(-1)
    buf.freebuffer()
    with pytest.raises(ValueError, match="freed"):
        send.transfer(buf)
    assert send.queued == 0


def test_transfer_longer_than_the_length_register(dev):
    """Refused: in Python with ValueError, in the kernel with EMSGSIZE."""
    with pydmak.DMA(dev) as dma:
        big = pydmak.allocate(4 << 20, "u1", device=dev)
        dma.info = dataclasses.replace(dma.info, max_transfer=1 << 20)
        with pytest.raises(ValueError, match="at most 1048576"):
            dma.sendchannel.transfer(big)
        xfers = (_uapi.dmak_xfer * 1)(_uapi.dmak_xfer(
            channel=_uapi.MM2S, handle=big._alloc().raw.handle,
            length=1 << 26))
        arg = _uapi.dmak_submit(xfers=ctypes.addressof(xfers), count=1)
        with pytest.raises(OSError) as exc:
            ioctl(dev.fileno(), _uapi.IOC_SUBMIT, arg)
        assert exc.value.errno == errno.EMSGSIZE
