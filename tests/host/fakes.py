"""A device that is never opened and buffers over ordinary memory, for the
host tests that answer pydmak's ioctls with a fake kernel."""

import itertools
import weakref

import numpy as np

from pydmak._memory import address
from pydmak.buffer import DMABuffer, _Allocation
from pydmak.device import Device, DeviceInfo, RawBuffer

_handles = itertools.count(1)


class FakeDevice(Device):
    """A Device that is never opened; the fake kernel answers its ioctls."""

    def __init__(self, info: DeviceInfo, cache_alignment: int = 1) -> None:
        self.path = "/dev/dmakF"
        self._fd = 1000
        self._allocations = weakref.WeakSet()
        self._info = info
        self._cache_alignment = cache_alignment

    @property
    def info(self) -> DeviceInfo:
        return self._info

    def close(self) -> None:
        self._fd = None


def fake_buffer(dev, shape, dtype="u1", misalign=0, cached=False,
                imported=False):
    """A DMABuffer over ordinary memory that says it belongs to ``dev``:
    64-byte aligned, or ``misalign`` bytes past that; ``cached`` and
    ``imported`` (a dma-buf from elsewhere) as the kernel would say."""
    dt = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dt.itemsize
    handle = next(_handles)
    root = np.zeros(nbytes + 128, np.uint8)
    root = root[-address(root) % 64:][:nbytes + 64]     # 64-byte aligned
    raw = RawBuffer(handle=handle, size=misalign + nbytes,
                    cached=cached or imported, mmap_offset=0,
                    dma_addr=0x10000000 + handle * 65536, imported=imported)
    alloc = _Allocation(dev, raw, None)
    alloc.vaddr = address(root)
    alloc.handle_live = False        # nothing to free in a kernel
    arr = root[misalign:misalign + nbytes].view(dt).reshape(shape)
    arr = arr.view(DMABuffer)
    arr._dmak = alloc
    return arr
