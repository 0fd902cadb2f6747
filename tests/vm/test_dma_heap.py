"""Buffers from /dev/dma_heap/system through a loopback.

Needs a kernel with CONFIG_DMABUF_HEAPS_SYSTEM: Debian's 6.12 has it, its
6.1 does not, so scripts/run-tests runs this file in a second guest that
boots 6.12 (tests/vm/run --kernel). It fails, never skips, elsewhere.

The system heap hands out cached pages in blocks of 1 MiB, 64 KiB or one
page, largest first, so a 64 KiB or 1 MiB buffer is one block: one run of
bus addresses for an IP without an IOMMU. The instances are 64-bit: the
heap takes pages from anywhere in the guest's 6G, and a 32-bit device
would see those above 4 GiB only through swiotlb bounce buffers, which
hold at most 256 KiB in one piece (larger imports fail with EIO there).
"""

import ctypes
import os
import pathlib

import numpy as np
import pytest

import pydmak
from pydmak._libc import ioctl
from conftest import assert_buffers_returned, with_modules

DIRECT, SG = 0, 1
HEAP = pathlib.Path("/dev/dma_heap/system")


class dma_heap_allocation_data(ctypes.Structure):
    """<linux/dma-heap.h>"""
    _fields_ = [
        ("len", ctypes.c_uint64),
        ("fd", ctypes.c_uint32),
        ("fd_flags", ctypes.c_uint32),
        ("heap_flags", ctypes.c_uint64),
    ]


# _IOWR('H', 0x0, struct dma_heap_allocation_data)
DMA_HEAP_IOCTL_ALLOC = (3 << 30) | (ctypes.sizeof(
    dma_heap_allocation_data) << 16) | (ord("H") << 8) | 0x0


@pytest.fixture(scope="module", autouse=True)
def two_instances():
    """dmak0 direct and dmak1 SG, 64-bit; the default load again after."""
    assert HEAP.exists(), (
        f"{HEAP} is missing: this kernel ({os.uname().release}) has no "
        "CONFIG_DMABUF_HEAPS_SYSTEM; scripts/run-tests runs this file on "
        "Debian's 6.12")
    yield from with_modules(["instances=2", "sg=0,1", "addr_width=64"])


@pytest.fixture(autouse=True)
def no_leaked_buffers(two_instances):
    yield
    assert_buffers_returned(DIRECT, SG)


def heap_alloc(nbytes):
    """A dma-buf fd of ``nbytes`` from the system heap."""
    arg = dma_heap_allocation_data(len=nbytes,
                                   fd_flags=os.O_RDWR | os.O_CLOEXEC)
    fd = os.open(HEAP, os.O_RDONLY | os.O_CLOEXEC)
    try:
        ioctl(fd, DMA_HEAP_IOCTL_ALLOC, arg)
    finally:
        os.close(fd)
    return arg.fd


@pytest.mark.parametrize("index", [DIRECT, SG], ids=["direct", "sg"])
@pytest.mark.parametrize("nbytes", [64 << 10, 1 << 20])
def test_a_heap_buffer_through_a_loopback(index, nbytes):
    """Out of a heap buffer and back into another one, byte for byte."""
    with pydmak.Device(index) as dev, pydmak.DMA(dev) as dma:
        fds = [heap_alloc(nbytes), heap_alloc(nbytes)]
        try:
            src = pydmak.from_dmabuf(fds[0], nbytes, device=dev)
            dst = pydmak.from_dmabuf(fds[1], nbytes, device=dev)
        finally:
            for fd in fds:
                os.close(fd)                 # the buffers hold the dma-bufs
        assert src.cacheable and dst.cacheable
        src[:] = np.random.default_rng(nbytes).integers(0, 256, nbytes,
                                                        np.uint8)
        dst[:] = 0
        dma.recvchannel.transfer(dst)
        dma.sendchannel.transfer(src)
        dma.sendchannel.wait(10)
        assert dma.recvchannel.wait(10) == nbytes
        assert np.array_equal(src, dst)
        src.freebuffer()
        dst.freebuffer()


def test_a_heap_buffer_shared_by_both_devices():
    """One heap buffer used by both devices in turn: dmak0 fills it from a
    buffer of its own, then lets go of it; dmak1 imports it and sends it
    on into a buffer of dmak1. In turn, since the heap maps its pages for
    each importer with CPU syncs: two devices holding writable mappings of
    the same cache lines at once is what DMA-API debugging refuses
    ("cacheline tracking EEXIST"), as the caches can then be maintained
    for one under the other's transfer."""
    n = 64 << 10
    with pydmak.Device(DIRECT) as dev0, pydmak.Device(SG) as dev1, \
            pydmak.DMA(dev0) as dma0, pydmak.DMA(dev1) as dma1:
        fd = heap_alloc(n)
        try:
            shared = pydmak.from_dmabuf(fd, n, device=dev0)
            src = pydmak.allocate(n, "u1", device=dev0)
            src[:] = np.arange(n, dtype=np.uint32).astype(np.uint8) ^ 0x5A
            dma0.recvchannel.transfer(shared)
            dma0.sendchannel.transfer(src)
            dma0.sendchannel.wait(10)
            assert dma0.recvchannel.wait(10) == n
            shared.freebuffer()               # dmak0 lets go of it
            again = pydmak.from_dmabuf(fd, n, device=dev1)
        finally:
            os.close(fd)
        out = pydmak.allocate(n, "u1", device=dev1)
        dma1.recvchannel.transfer(out)
        dma1.sendchannel.transfer(again)
        dma1.sendchannel.wait(10)
        assert dma1.recvchannel.wait(10) == n
        assert np.array_equal(out, src)
        assert np.array_equal(again, src)
        for buf in (again, src, out):
            buf.freebuffer()
