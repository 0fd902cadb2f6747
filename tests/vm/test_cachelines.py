"""The cache-line rule of cached S2MM ranges, on a direct and an SG IP.

sysfs ``cache_alignment`` is the alignment a device that does not snoop
the CPU caches needs at both ends of an S2MM range of cached memory (1 on
a coherent one). An x86-64 guest is coherent: there a cached receive at
any offset works and every byte arrives. On the arm64 guest the platform
devices do not snoop (no ``dma-coherent``): there the driver refuses a
range off the lines with ``EINVAL`` (raw ioctl), pydmak says why, and a
range on the lines works.
"""

import ctypes
import errno
import platform

import numpy as np
import pytest

import pydmak
from pydmak import _uapi
from pydmak._libc import ioctl
from conftest import SYSFS, assert_buffers_returned, sysfs_attr

DIRECT, SG = 0, 1
NBYTES = 4096
OFFSET = 4          # on a 32-bit beat (no DRE), off any cache line
RNG = np.random.default_rng(64)

pytestmark = pytest.mark.usefixtures("direct_and_sg")


@pytest.fixture(params=[DIRECT, SG], ids=["direct", "sg"])
def ip(request):
    """``(index, dma)`` of each instance in turn."""
    with pydmak.DMA(request.param) as dma:
        yield request.param, dma
        if dma.sendchannel.queued or dma.recvchannel.queued:
            dma.sendchannel.reset()
    assert_buffers_returned(request.param)


@pytest.fixture
def sg():
    with pydmak.DMA(SG) as dma:
        yield dma
    assert_buffers_returned(SG)


def _align(index):
    return int(sysfs_attr("cache_alignment", index))


def _cached(dma, nbytes, fill=None):
    buf = pydmak.allocate(nbytes, "u1", cacheable=True, device=dma.device)
    if fill is None:
        buf[:] = RNG.integers(0, 256, nbytes, dtype=np.uint8)
    else:
        buf[:] = fill
    return buf


def _submit(dma, *xfers):
    array = (_uapi.dmak_xfer * len(xfers))(*xfers)
    arg = _uapi.dmak_submit(xfers=ctypes.addressof(array), count=len(xfers))
    ioctl(dma.device.fileno(), _uapi.IOC_SUBMIT, arg)


def _receive_at(dma, offset, nbytes=NBYTES):
    """Loops ``nbytes`` into a cached buffer at ``offset``; checks every
    byte, and that the bytes beside the range kept their value."""
    src = _cached(dma, nbytes)
    dst = _cached(dma, offset + nbytes + 256, fill=0x5A)
    dma.loopback(src, (dst, offset, nbytes))
    assert dma.sendchannel.wait(10) == nbytes
    assert dma.recvchannel.wait(10) == nbytes
    assert np.array_equal(dst[offset:offset + nbytes], src)
    assert (dst[:offset] == 0x5A).all() and \
        (dst[offset + nbytes:] == 0x5A).all()
    src.freebuffer()
    dst.freebuffer()


def test_the_attribute_says_what_the_machine_needs():
    """1 on a coherent x86-64; the CPU's DMA alignment (a power of two
    above 1) on arm64, whose platform devices here do not snoop."""
    for index in (DIRECT, SG):
        path = SYSFS / f"dmak{index}" / "cache_alignment"
        assert path.stat().st_mode & 0o777 == 0o444
        align = _align(index)
        assert align & (align - 1) == 0
        if platform.machine() == "x86_64":
            assert align == 1
        elif platform.machine() == "aarch64":
            assert align > 1
        with pydmak.Device(index) as dev:
            assert dev.cache_alignment == align


def test_a_cached_receive_off_the_lines(ip):
    index, dma = ip
    align = _align(index)
    if align == 1:
        _receive_at(dma, OFFSET)            # no rule: every byte arrives
        return
    dst = _cached(dma, 2 * NBYTES)
    raw = dst._dmak.raw
    for offset, length in ((OFFSET, NBYTES), (0, NBYTES + OFFSET)):
        with pytest.raises(OSError) as exc:
            _submit(dma, _uapi.dmak_xfer(channel=_uapi.S2MM,
                                         handle=raw.handle, offset=offset,
                                         length=length))
        assert exc.value.errno == errno.EINVAL
    with pytest.raises(ValueError) as exc:
        dma.recvchannel.transfer(dst, OFFSET, NBYTES)
    assert exc.value.strerror == (
        f"/dev/dmak{index}: S2MM range [offset {OFFSET}, {NBYTES} bytes) "
        f"of a cached buffer must start on a {align}-byte cache line and "
        "end on one or with the buffer on this non-coherent device (it "
        f"starts {OFFSET} bytes into a line and it ends {OFFSET} bytes "
        "into one, short of the buffer's end): use a coherent "
        "buffer (pydmak.allocate(..., cacheable=False)) or align the range "
        f"(the whole lines inside it: offset {align}, {NBYTES - align} "
        "bytes)")
    assert dma.recvchannel.queued == 0
    dst.freebuffer()
    _receive_at(dma, align)                 # on the lines: it works


def test_a_cached_scatter_off_the_lines(sg):
    align = _align(SG)
    src = _cached(sg, 2048)
    dst = _cached(sg, 4096, fill=0x5A)
    pieces = [(dst, OFFSET, 1024), (dst, 2048 + OFFSET, 1024)]
    if align > 1:
        with pytest.raises(pydmak.CacheLineError,
                           match="piece 0 of the gather: S2MM range"):
            sg.recvchannel.transfer(pieces)
        pieces = [(dst, 0, 1024), (dst, 2048, 1024)]
    sg.loopback(src, pieces)
    assert sg.recvchannel.wait(10) == src.nbytes
    sg.sendchannel.wait(10)
    half = src.nbytes // 2
    (a, sa, na), (b, sb, nb) = pieces
    assert np.array_equal(dst[sa:sa + na], src[:half])
    assert np.array_equal(dst[sb:sb + nb], src[half:])
    assert (dst[:sa] == 0x5A).all() and (dst[sa + na:sb] == 0x5A).all()
    assert (dst[sb + nb:] == 0x5A).all()
    src.freebuffer()
    dst.freebuffer()


def test_a_cached_capture_off_the_lines(sg):
    """Slots of 100 bytes: each slot is a range of its own."""
    align = _align(SG)
    buf = _cached(sg, 4 * 100, fill=0)
    if align > 1:
        cyc = _uapi.dmak_cyclic(channel=_uapi.S2MM, op=_uapi.CYCLIC_START,
                                handle=buf._dmak.raw.handle, slots=4,
                                offset=0, slot_size=100)
        with pytest.raises(OSError) as exc:
            ioctl(sg.device.fileno(), _uapi.IOC_CYCLIC, cyc)
        assert exc.value.errno == errno.EINVAL
        with pytest.raises(pydmak.CacheLineError,
                           match=f"slot_bytes 100 is not a multiple of "
                                 f"{align}"):
            sg.recvchannel.stream(buf, 4, 100)
        buf.freebuffer()
        buf = _cached(sg, 4 * align, fill=0)
    slot = buf.nbytes // 4
    packets = [_cached(sg, slot) for _ in range(8)]
    with sg.recvchannel.stream(buf, 4, slot, timeout=10) as frames:
        for i, packet in enumerate(packets):
            sg.sendchannel.transfer(packet)
            frame = next(frames)
            assert (frame.seq, frame.index) == (i + 1, i % 4)
            assert np.array_equal(frame, packet)
        sg.sendchannel.wait(10)
    for packet in packets:
        packet.freebuffer()
    buf.freebuffer()
