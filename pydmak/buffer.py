"""DMA buffers as numpy arrays: ``allocate()`` and ``DMABuffer``."""

from __future__ import annotations

import operator
import os
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

from . import _uapi
from ._libc import replace_with_anonymous
from ._memory import address, byte_span
from .device import Device, RawBuffer, default_device

__all__ = ["allocate", "from_dmabuf", "DMABuffer"]

Shape = Union[int, Sequence[int]]


class _Allocation:
    """One kernel buffer mapped into this process, shared by its views."""

    __slots__ = ("device", "raw", "mmap", "vaddr", "freed", "handle_live",
                 "imports", "__weakref__")

    def __init__(self, device: Device, raw: RawBuffer, mapping) -> None:
        self.device = device
        self.raw = raw
        self.mmap = mapping
        self.vaddr = 0
        self.freed = False
        self.handle_live = True
        #: id(device) -> (device, RawBuffer): the buffer on other devices
        self.imports: Dict[int, Tuple[Device, RawBuffer]] = {}

    def on(self, device: Device) -> RawBuffer:
        """The buffer as ``device`` sees it: itself on its own device, else
        imported there once (as a dma-buf) and kept until it is freed."""
        if device is self.device:
            return self.raw
        if self.freed or not self.handle_live:
            raise ValueError("the buffer was freed")
        known = self.imports.get(id(device))
        if known is not None and known[0] is device and not device.closed:
            return known[1]
        fd = self.device.export(self.raw.handle)
        try:
            raw = device.import_dmabuf(fd)
        finally:
            os.close(fd)
        self.imports[id(device)] = (device, raw)
        return raw

    def contains(self, arr: np.ndarray) -> bool:
        low, high = byte_span(arr)
        return self.vaddr <= low and high <= self.vaddr + self.raw.size

    def release_handle(self) -> None:
        """Gives the handle back; the memory stays while it is mapped."""
        if self.handle_live:
            self.handle_live = False
            imports, self.imports = self.imports, {}
            for device, raw in imports.values():
                if not device.closed:
                    device.free(raw.handle)
            if not self.device.closed:
                self.device.free(self.raw.handle)

    def free(self) -> None:
        """Gives the buffer back and unmaps its memory, in place.

        Unmapping under live views is safe: their pages become private
        zero pages, so the kernel releases the buffer at once while every
        view stays valid (reading zeros) until it is gone.
        """
        if self.freed:
            return
        self.freed = True
        self.release_handle()
        if not self.mmap.closed:
            replace_with_anonymous(self.vaddr, len(self.mmap))

    def __del__(self) -> None:
        # The last array over the buffer is gone, and its mapping with it:
        # give the handle back so a long-lived device does not collect
        # buffers nobody can reach.
        try:
            self.release_handle()
        except Exception:  # the device went away first: nothing to free
            pass


class DMABuffer(np.ndarray):
    """A numpy array in DMA-capable memory, as PYNQ's ``PynqBuffer``.

    Slices and views are ``DMABuffer`` too and report their own
    ``physical_address``. Arrays that numpy computes into fresh memory
    (``buf + 1``, ``buf.copy()``) are not in the DMA buffer: asking them
    for a physical address raises ``ValueError``.
    """

    _dmak: Optional[_Allocation] = None

    def __array_finalize__(self, obj) -> None:
        alloc = getattr(obj, "_dmak", None)
        if alloc is not None and not alloc.contains(self):
            alloc = None
        self._dmak = alloc

    def _alloc(self) -> _Allocation:
        alloc = self._dmak
        if alloc is None:
            raise ValueError("this array does not live in a DMA buffer "
                             "(numpy made it in ordinary memory)")
        if alloc.freed:
            raise ValueError("the DMA buffer of this array was freed")
        return alloc

    @property
    def physical_address(self) -> int:
        """Address of the first element as the DMA engine sees it."""
        alloc = self._alloc()
        return alloc.raw.dma_addr + (address(self) - alloc.vaddr)

    device_address = physical_address

    @property
    def cacheable(self) -> bool:
        """True for a cached buffer (needs flush/invalidate)."""
        return self._alloc().raw.cached

    @property
    def coherent(self) -> bool:
        """True for a coherent buffer (flush/invalidate do nothing)."""
        return not self.cacheable

    @property
    def device(self) -> Device:
        """The device the buffer belongs to."""
        return self._alloc().device

    def _sync(self, direction: int) -> None:
        alloc = self._alloc()
        if not alloc.raw.cached:
            return
        low, high = byte_span(self)
        if high > low:
            alloc.device.sync(alloc.raw.handle, low - alloc.vaddr,
                              high - low, direction)

    def flush(self) -> None:
        """Writes the CPU's cached writes to memory, for the device to read.

        A no-op on coherent buffers.
        """
        self._sync(_uapi.SYNC_TO_DEVICE)

    def invalidate(self) -> None:
        """Drops stale cache lines, so the CPU reads what the device wrote.

        A no-op on coherent buffers.
        """
        self._sync(_uapi.SYNC_FROM_DEVICE)

    sync_to_device = flush
    sync_from_device = invalidate

    def export(self) -> int:
        """A new dma-buf file descriptor of the whole buffer.

        For other drivers (a GPU, a display) and other processes; the
        caller owns it and closes it with ``os.close()``. Every dmak device
        takes the buffer as it is (``transfer()`` imports it by itself), so
        pydmak's own DMAs do not need this.
        """
        alloc = self._alloc()
        return alloc.device.export(alloc.raw.handle)

    def freebuffer(self) -> None:
        """Gives the buffer's memory back to the kernel now; idempotent.

        Views of it stay safe to touch until they are gone, but their
        contents are gone: they read zeros and no longer name a DMA buffer.
        """
        if self._dmak is not None:
            self._dmak.free()

    close = freebuffer

    def __enter__(self) -> "DMABuffer":
        return self

    def __exit__(self, *exc) -> None:
        self.freebuffer()


def _normalise_shape(shape: Shape) -> Tuple[int, ...]:
    try:
        dims = (operator.index(shape),)
    except TypeError:
        try:
            dims = tuple(operator.index(d) for d in shape)
        except TypeError:
            raise TypeError("shape must be an int or a sequence of ints, "
                            f"not {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"shape {dims} has a negative dimension")
    return dims


def _layout(shape: Shape, dtype) -> Tuple[Tuple[int, ...], np.dtype, int]:
    """``(dims, dtype, nbytes)`` of an array to put in a DMA buffer."""
    dims = _normalise_shape(shape)
    dt = np.dtype(dtype)
    if dt.hasobject:
        raise TypeError(f"dtype {dt} holds Python objects, which cannot "
                        "live in a DMA buffer")
    nbytes = int(np.prod(dims, dtype=np.int64)) * dt.itemsize
    if nbytes < 1:
        raise ValueError(f"shape {dims} of {dt} is empty: a DMA buffer "
                         "needs at least one byte")
    return dims, dt, nbytes


def _device(device: Optional[Device]) -> Device:
    if device is None:
        return default_device()
    if not isinstance(device, Device):
        raise TypeError(f"device must be a pydmak.Device, not "
                        f"{type(device).__name__}")
    return device


def allocate(shape: Shape, dtype="u4", cacheable: bool = False,
             device: Optional[Device] = None) -> DMABuffer:
    """Allocates a DMA buffer and returns it as a numpy array.

    ``shape`` and ``dtype`` are numpy's. ``cacheable=False`` gives coherent
    memory (uncached on SoCs without hardware coherency; never needs
    flush/invalidate); ``cacheable=True`` gives cached memory, faster for
    the CPU, that needs ``flush()`` before the device reads it and
    ``invalidate()`` before the CPU reads what the device wrote.
    ``device`` defaults to the first ``/dev/dmakN``.
    """
    dims, dt, nbytes = _layout(shape, dtype)
    device = _device(device)

    return _mapped(device, device.alloc(nbytes, cached=bool(cacheable)),
                   dims, dt)


def _mapped(device: Device, raw: RawBuffer, dims: Tuple[int, ...],
            dt: np.dtype) -> DMABuffer:
    """Maps buffer ``raw`` of ``device`` as an array; frees it on failure."""
    nbytes = int(np.prod(dims, dtype=np.int64)) * dt.itemsize
    try:
        mapping = device.mmap(raw)
    except BaseException:
        device.free(raw.handle)
        raise
    alloc = _Allocation(device, raw, mapping)
    device._track(alloc)
    root = np.frombuffer(mapping, dtype=np.uint8, count=nbytes)
    alloc.vaddr = address(root)
    arr = root.view(dt).reshape(dims).view(DMABuffer)
    arr._dmak = alloc
    return arr


def from_dmabuf(fd: int, shape: Shape, dtype="u1",
                device: Optional[Device] = None) -> DMABuffer:
    """A dma-buf from elsewhere as a DMA buffer of ``device``.

    ``fd`` is a dma-buf file descriptor: from ``/dev/dma_heap/<heap>``, a
    camera or GPU driver, or ``DMABuffer.export()``. The device attaches
    it and maps it for itself; the array maps its memory. ``fd`` stays the
    caller's (the buffer keeps its own reference). The device must see the
    buffer as one block of bus addresses (``DmakError`` with ``EINVAL``
    otherwise). Transfers on it maintain the CPU caches as for a
    ``cacheable`` buffer; ``freebuffer()`` detaches it.
    """
    dims, dt, nbytes = _layout(shape, dtype)
    device = _device(device)
    raw = device.import_dmabuf(fd)
    if nbytes > raw.size:
        device.free(raw.handle)
        raise ValueError(f"shape {dims} of {dt} needs {nbytes} bytes; the "
                         f"dma-buf has {raw.size}")
    return _mapped(device, raw, dims, dt)
