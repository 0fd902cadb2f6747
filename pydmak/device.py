"""The dmak char device: discovery, INFO, and the buffer ioctls.

``Device`` wraps one open ``/dev/dmakN``; ``Device.info`` says what the IP
instance offers (channels, scatter-gather and its ring, widths, limits,
quota). Errors of the driver become :class:`~pydmak.DmakError` with a text
that says what was wrong and, where there is one, the fix.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import mmap
import os
import re
import threading
import weakref
from dataclasses import dataclass
from typing import Dict, List, Optional, Union

from . import _uapi
from ._libc import ioctl
from .errors import DeviceNotFoundError, DmakError

__all__ = ["Device", "DeviceInfo", "RawBuffer", "devices", "default_device"]

DEV_GLOB = "/dev/dmak*"


def devices() -> List[str]:
    """Returns the paths of the dmak devices present, in index order."""
    found = [p for p in glob.glob(DEV_GLOB) if re.fullmatch(r".*/dmak\d+", p)]
    return sorted(found, key=lambda p: int(re.search(r"\d+$", p).group()))


def _resolve(path_or_index: Union[str, int, None]) -> str:
    if path_or_index is None:
        found = devices()
        if not found:
            raise DeviceNotFoundError.explain("(/dev/dmak* is absent)")
        return found[0]
    if isinstance(path_or_index, bool) or not isinstance(
            path_or_index, (int, str, os.PathLike)):
        raise TypeError("a device is a path or an index, not "
                        f"{type(path_or_index).__name__}")
    if isinstance(path_or_index, int):
        if path_or_index < 0:
            raise ValueError(f"device index {path_or_index} is negative")
        return f"/dev/dmak{path_or_index}"
    return os.fspath(path_or_index)


@dataclass(frozen=True)
class DeviceInfo:
    """What one AXI DMA instance offers (``DMAK_IOC_INFO``).

    ``mm2s``/``s2mm``: the channels present; ``sg``: built with the
    scatter-gather engine (the driver then keeps a ring of ``ring_size``
    descriptors per channel, each carrying up to ``desc_max`` bytes);
    ``dre``: has the data realignment engine. ``max_transfer`` is the
    largest transfer (one stream packet): ``2**length_width - 1`` bytes in
    direct mode, ``desc_max * ring_size`` with SG. ``delay_unit_ns`` is the
    time of one unit of SG interrupt-coalescing delay (0 without SG).
    ``buf_quota``/``buf_used``: bytes of buffers this open file may hold
    (0: no limit) and holds now.
    """

    abi_version: int
    mm2s: bool
    s2mm: bool
    sg: bool
    dre: bool
    length_width: int
    addr_width: int
    data_width: int
    ring_size: int
    max_transfer: int
    buf_quota: int
    buf_used: int
    desc_max: int
    delay_unit_ns: int

    @property
    def alignment(self) -> int:
        """Byte alignment transfer addresses need (1 with DRE)."""
        return 1 if self.dre else self.data_width // 8


@dataclass(frozen=True)
class RawBuffer:
    """A buffer as ``DMAK_IOC_ALLOC`` returns it."""

    handle: int
    size: int
    cached: bool
    mmap_offset: int
    dma_addr: int


_REASONS: Dict[str, Dict[int, str]] = {
    "ALLOC": {
        errno.EDQUOT: "this would pass the quota of {quota} bytes an open "
                      "file may hold (dmak module parameter buf_quota)",
        errno.ENOMEM: "the kernel has no {size} physically contiguous bytes "
                      "to give; larger buffers need CMA (cma=SIZE on the "
                      "kernel command line)",
        errno.EINVAL: "size must be at least 1 byte and flags known",
    },
    "FREE": {
        errno.ENOENT: "no buffer has handle {handle} (freed already?)",
        errno.EACCES: "buffer {handle} belongs to another open file",
    },
    "SYNC": {
        errno.ENOENT: "no buffer has handle {handle} (freed already?)",
        errno.EACCES: "buffer {handle} belongs to another open file",
        errno.EINVAL: "bytes {offset}..{end} are not inside the buffer",
    },
    "SUBMIT": {
        errno.EOPNOTSUPP: "gathering several pieces into one packet (or "
                          "coalescing) needs an IP built with "
                          "scatter-gather; this one is in direct mode",
        errno.EMSGSIZE: "the transfer is longer than one transfer may be: "
                        "{limit}",
        errno.EACCES: "the buffer belongs to another open file",
        errno.ENOENT: "the buffer was freed",
    },
    "COALESCE": {
        errno.EOPNOTSUPP: "interrupt coalescing needs an IP built with "
                          "scatter-gather; this one is in direct mode "
                          "(one interrupt per transfer)",
        errno.EINVAL: "threshold {threshold} must be 1..255 and delay "
                      "{delay} units 0..255, not 0 when the threshold is "
                      "above 1",
    },
    "WAIT": {
        errno.ENOENT: "the transfer's result is no longer kept: more than "
                      f"{_uapi.RESULTS} later transfers ended on the "
                      "channel; wait() sooner, or read the completion "
                      "records",
    },
    "EXPORT": {
        errno.ENOENT: "no buffer has handle {handle} (freed already?)",
        errno.EACCES: "buffer {handle} belongs to another open file",
        errno.EMFILE: "the process has no file descriptor left for the "
                      "dma-buf",
    },
    "IMPORT": {
        errno.EBADF: "{fd} is not an open file descriptor",
        errno.EINVAL: "{fd} is not a dma-buf, or this device cannot see it "
                      "as one block of bus addresses (scattered pages with "
                      "no IOMMU in front of the IP: use a contiguous "
                      "buffer, e.g. pydmak.allocate() or a CMA heap)",
        errno.EIO: "this device could not map the dma-buf: its DMA "
                   "addresses do not reach the memory, and bounce buffers "
                   "(swiotlb) do not hold it in one piece",
    },
    "MMAP": {
        errno.EINVAL: "no buffer of this file is at offset {offset}, or "
                      "{length} bytes is longer than the buffer",
        errno.EACCES: "the buffer at offset {offset} belongs to another "
                      "open file",
    },
}


class Device:
    """An open dmak device, ``/dev/dmakN``.

    ``path_or_index`` is a path, an index N for ``/dev/dmakN``, or None for
    the first device present. Buffers allocated through a device belong to
    it: closing the device frees them once nothing maps them any more.
    """

    def __init__(self, path_or_index: Union[str, int, None] = None) -> None:
        self.path = _resolve(path_or_index)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            raise DeviceNotFoundError.explain(self.path) from None
        except PermissionError as exc:
            raise PermissionError(
                exc.errno, f"{self.path}: permission denied: run as root or "
                "give your group access with a udev rule (see README)"
            ) from None
        self._fd: Optional[int] = fd
        self._allocations: "weakref.WeakSet" = weakref.WeakSet()
        self._closer = weakref.finalize(self, os.close, fd)
        info = self.info
        if info.abi_version != _uapi.ABI_VERSION:
            self.close()
            raise DmakError(
                errno.EPROTO,
                f"{self.path} speaks dmak ABI {info.abi_version}, this "
                f"pydmak speaks {_uapi.ABI_VERSION}: install matching "
                "versions of the module and the package")

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd={self._fd}"
        return f"<pydmak.Device {self.path} {state}>"

    def fileno(self) -> int:
        """The file descriptor, for selectors and asyncio."""
        if self._fd is None:
            raise ValueError(f"{self.path} is closed")
        return self._fd

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._fd is None

    def close(self) -> None:
        """Closes the device; idempotent.

        Buffers of this device stay readable while arrays map them; the
        memory of each goes back to the kernel when its last array is gone
        or its ``freebuffer()`` is called.
        """
        if self._fd is None:
            return
        for alloc in list(self._allocations):
            with contextlib.suppress(OSError):  # the close frees it anyway
                alloc.release_handle()
        self._fd = None
        self._closer()

    def _track(self, allocation) -> None:
        """Remembers a buffer, to give its handle back at :meth:`close`."""
        self._allocations.add(allocation)

    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, what: str, request: int, arg, **ctx) -> None:
        try:
            ioctl(self.fileno(), request, arg)
        except OSError as exc:
            raise self._error(what, exc.errno, **ctx) from None

    def _error(self, what: str, err: int, **ctx) -> DmakError:
        if err == errno.ENODEV:
            reason = "the device was removed (its driver was unbound)"
        else:
            reason = _REASONS.get(what, {}).get(err, os.strerror(err))
            fields = {"quota": _QuotaText(self), "limit": _LimitText(self)}
            fields.update(ctx)
            reason = reason.format(**fields)
        return DmakError(err, f"{self.path}: {what}: {reason}")

    @property
    def info(self) -> DeviceInfo:
        """What the instance offers, and this file's buffer usage."""
        raw = _uapi.dmak_info()
        self._call("INFO", _uapi.IOC_INFO, raw)
        flags = raw.flags
        return DeviceInfo(
            abi_version=raw.abi_version,
            mm2s=bool(flags & _uapi.INFO_MM2S),
            s2mm=bool(flags & _uapi.INFO_S2MM),
            sg=bool(flags & _uapi.INFO_SG),
            dre=bool(flags & _uapi.INFO_DRE),
            length_width=raw.length_width,
            addr_width=raw.addr_width,
            data_width=raw.data_width,
            ring_size=raw.ring_size,
            max_transfer=raw.max_transfer,
            buf_quota=raw.buf_quota,
            buf_used=raw.buf_used,
            desc_max=raw.desc_max,
            delay_unit_ns=raw.delay_unit_ns,
        )

    def alloc(self, size: int, cached: bool = False) -> RawBuffer:
        """Allocates ``size`` bytes of DMA memory (``DMAK_IOC_ALLOC``)."""
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"size must be an int, not {type(size).__name__}")
        if size < 1:
            raise ValueError(f"size must be at least 1 byte, not {size}")
        raw = _uapi.dmak_alloc(size=size, flags=(
            _uapi.BUF_CACHED if cached else _uapi.BUF_COHERENT))
        self._call("ALLOC", _uapi.IOC_ALLOC, raw, size=size,
                   quota=_QuotaText(self))
        return RawBuffer(handle=raw.handle, size=size, cached=bool(cached),
                         mmap_offset=raw.mmap_offset, dma_addr=raw.dma_addr)

    def export(self, handle: int) -> int:
        """A new dma-buf file descriptor of a buffer (``DMAK_IOC_EXPORT``).

        The caller owns the descriptor (close it when done); the buffer's
        memory stays while the descriptor or any importer holds it.
        """
        raw = _uapi.dmak_export(handle=handle)
        self._call("EXPORT", _uapi.IOC_EXPORT, raw, handle=handle)
        return raw.fd

    def import_dmabuf(self, fd: int) -> RawBuffer:
        """Attaches a dma-buf to this device (``DMAK_IOC_IMPORT``).

        Returns the buffer as this device sees it, under a handle of this
        file; ``free()`` detaches it. ``fd`` stays the caller's.
        """
        if isinstance(fd, bool) or not isinstance(fd, int):
            raise TypeError(f"fd must be an int, not {type(fd).__name__}")
        raw = _uapi.dmak_import(fd=fd)
        self._call("IMPORT", _uapi.IOC_IMPORT, raw, fd=fd)
        return RawBuffer(handle=raw.handle, size=raw.size, cached=True,
                         mmap_offset=raw.mmap_offset, dma_addr=raw.dma_addr)

    def free(self, handle: int) -> None:
        """Frees a buffer's handle (``DMAK_IOC_FREE``)."""
        self._call("FREE", _uapi.IOC_FREE, _uapi.dmak_free(handle=handle),
                   handle=handle)

    def sync(self, handle: int, offset: int, size: int,
             direction: int) -> None:
        """Cache maintenance on bytes ``offset..offset+size`` of a buffer.

        ``direction`` is ``SYNC_TO_DEVICE`` (flush), ``SYNC_FROM_DEVICE``
        (invalidate) or ``SYNC_BIDIRECTIONAL``.
        """
        raw = _uapi.dmak_sync(handle=handle, direction=direction,
                              offset=offset, size=size)
        self._call("SYNC", _uapi.IOC_SYNC, raw, handle=handle,
                   offset=offset, end=offset + size)

    def mmap(self, buf: RawBuffer) -> mmap.mmap:
        """Maps a buffer of this device into the process."""
        try:
            return mmap.mmap(self.fileno(), buf.size, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE,
                             offset=buf.mmap_offset)
        except OSError as exc:
            raise self._error("MMAP", exc.errno, offset=buf.mmap_offset,
                              length=buf.size) from None


class _QuotaText:
    """Formats the quota lazily: only an EDQUOT message asks for it."""

    def __init__(self, dev: Device) -> None:
        self._dev = dev

    def __format__(self, spec: str) -> str:
        try:
            return format(self._dev.info.buf_quota, spec)
        except OSError:
            return "?"


def limit_text(info: DeviceInfo) -> str:
    """Says how long one transfer may be on ``info``'s IP, and why."""
    if info.sg:
        return (f"at most {info.max_transfer} bytes ({info.desc_max} bytes "
                f"per descriptor x {info.ring_size} descriptors in the "
                "ring); split it, or raise the dmak module parameter "
                "ring_size")
    return (f"at most {info.max_transfer} bytes ({info.length_width}-bit "
            "length register of direct mode); split it, or build the IP "
            "with a wider xlnx,sg-length-width")


class _LimitText:
    """Formats the transfer limit lazily: only EMSGSIZE asks for it."""

    def __init__(self, dev: Device) -> None:
        self._dev = dev

    def __format__(self, spec: str) -> str:
        try:
            return format(limit_text(self._dev.info), spec)
        except OSError:
            return "see max_transfer in the device's info"


_default_lock = threading.Lock()
_default: Optional[Device] = None


def default_device() -> Device:
    """The device ``allocate()`` and ``DMA()`` use when given none.

    Opened on first use (the first ``/dev/dmakN``) and kept open.
    """
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = Device()
        return _default
