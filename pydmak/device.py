"""The dmak char device: discovery, INFO, and the buffer ioctls.

``Device`` wraps one open ``/dev/dmakN``; ``Device.info`` says what the IP
instance offers (channels, scatter-gather and its ring, widths, limits,
quota). Errors of the driver become :class:`~pydmak.DmakError` with a text
that says what was wrong and, where there is one, the fix.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import re
import threading
import weakref
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Union

from . import _uapi
from ._libc import ioctl
from .errors import DeviceNotFoundError, DmakError

__all__ = ["BASE_MIN", "Device", "DeviceEntry", "DeviceInfo", "RawBuffer",
           "devices", "default_device"]

#: Where the driver's class devices are: one directory dmakN each.
SYSFS_CLASS = "/sys/class/dmak"
#: Where their device files are.
DEV_DIR = "/dev"

#: An int at least this large is a register base address, a smaller one an
#: index N of /dev/dmakN (the driver has at most 64 minors, and no AXI DMA
#: sits in the first page of the address space).
BASE_MIN = 0x1000


@dataclass(frozen=True)
class DeviceEntry:
    """A dmak device present, as ``devices()`` lists it (from sysfs).

    ``name`` is the block-design name (e.g. ``axi_dma_0``: the node's
    ``xlnx,name``, else its DT label, else the node name), ``node`` the
    firmware node's name (e.g. ``dma@40400000``), ``base`` the register base
    address (None when the device has no memory resource), ``compatible``
    its compatible strings and ``sg`` whether the IP has scatter-gather.
    Fields sysfs does not give are None (or empty).
    """

    path: str
    index: int
    name: Optional[str] = None
    node: Optional[str] = None
    base: Optional[int] = None
    compatible: Tuple[str, ...] = ()
    sg: Optional[bool] = None

    @property
    def mode(self) -> Optional[str]:
        """``"sg"`` or ``"direct"`` (None if unknown)."""
        return None if self.sg is None else ("sg" if self.sg else "direct")

    def __str__(self) -> str:
        base = "no base" if self.base is None else f"0x{self.base:x}"
        return f"{self.name or '?'} @ {base} -> {self.path}"


def _sysfs_text(directory: str, attr: str) -> Optional[str]:
    try:
        with open(os.path.join(directory, attr)) as f:
            return f.read().strip()
    except OSError:
        return None


def _entry(index: int) -> DeviceEntry:
    directory = os.path.join(SYSFS_CLASS, f"dmak{index}")
    base = _sysfs_text(directory, "base")
    compatible = _sysfs_text(directory, "compatible")
    features = _sysfs_text(directory, "features")
    try:
        base_value = int(base, 16) if base else None
    except ValueError:
        base_value = None
    return DeviceEntry(
        path=os.path.join(DEV_DIR, f"dmak{index}"), index=index,
        name=_sysfs_text(directory, "name") or None,
        node=_sysfs_text(directory, "node") or None,
        base=base_value,
        compatible=tuple(compatible.split()) if compatible else (),
        sg=None if features is None else "sg" in features.split())


def _indices(directory: str) -> List[int]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [int(n[4:]) for n in names if re.fullmatch(r"dmak\d+", n)]


def devices() -> List[DeviceEntry]:
    """The dmak devices present, in index order, with their names.

    Each entry says the device's path, index, name, node, base address,
    compatible strings and mode (see :class:`DeviceEntry`); any of them
    opens it: ``pydmak.DMA(entry.name)``, ``pydmak.Device(entry)``.
    """
    found = set(_indices(SYSFS_CLASS)) | set(_indices(DEV_DIR))
    return [_entry(i) for i in sorted(found)]


def _listing(found: List[DeviceEntry]) -> str:
    return "; ".join(str(e) for e in found) or "none"


def _find(wanted: Union[str, int]) -> str:
    """The path of the device whose name, node (str) or base (int) is
    ``wanted``; DeviceNotFoundError listing what exists otherwise."""
    found = devices()
    if not found:
        raise DeviceNotFoundError.explain(
            f"0x{wanted:x}" if isinstance(wanted, int) else repr(wanted))
    if isinstance(wanted, int):
        hits = [e for e in found if e.base == wanted]
        what = f"at base address 0x{wanted:x}"
    else:
        hits = ([e for e in found if e.name == wanted]
                or [e for e in found if e.node == wanted])
        what = f"named {wanted!r}"
    if len(hits) > 1:
        raise ValueError(f"{len(hits)} dmak devices are {what}: "
                         f"{_listing(hits)}; give the path instead")
    if not hits:
        raise DeviceNotFoundError(
            errno.ENOENT, f"no dmak device {what}; present: "
            f"{_listing(found)}")
    return hits[0].path


def _resolve(spec: Union[str, int, "DeviceEntry", os.PathLike, None]
             ) -> str:
    """The device file ``spec`` names.

    None: the first device; a :class:`DeviceEntry`: its path; an int below
    ``BASE_MIN``: the index N of /dev/dmakN; a larger int: the register base
    address; a str with a ``/`` (or a path object): a path; any other str: a
    name (``xlnx,name``/label) or, failing that, a node name.
    """
    if spec is None:
        found = devices()
        if not found:
            raise DeviceNotFoundError.explain("(/dev/dmak* is absent)")
        return found[0].path
    if isinstance(spec, DeviceEntry):
        return spec.path
    if isinstance(spec, bool) or not isinstance(
            spec, (int, str, os.PathLike)):
        raise TypeError("a device is a name, a path, an index or a base "
                        f"address, not {type(spec).__name__}")
    if isinstance(spec, int):
        if spec < 0:
            raise ValueError(f"device index {spec} is negative")
        if spec >= BASE_MIN:
            return _find(spec)
        return os.path.join(DEV_DIR, f"dmak{spec}")
    if isinstance(spec, str) and "/" not in spec:
        if not spec:
            raise ValueError("a device name is not empty")
        return _find(spec)
    return os.fspath(spec)


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
    ``buf_quota``/``buf_used``: bytes of buffers your user may hold on
    this device, all your open files together (0: no limit), and holds
    now.
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
    """A buffer as ``DMAK_IOC_ALLOC`` (or ``DMAK_IOC_IMPORT``: ``imported``,
    and ``cached`` as the driver maintains it) returns it."""

    handle: int
    size: int
    cached: bool
    mmap_offset: int
    dma_addr: int
    imported: bool = False


_REASONS: Dict[str, Dict[int, str]] = {
    "ALLOC": {
        errno.EDQUOT: "this would pass the quota of {quota} bytes one user "
                      "may hold on this device, all their open files "
                      "together (dmak module parameter buf_quota)",
        errno.ENOMEM: "the kernel has no {size} physically contiguous bytes "
                      "to give; larger buffers need CMA (cma=SIZE on the "
                      "kernel command line)",
        errno.EINVAL: "size must be at least 1 byte and flags known",
    },
    "FREE": {
        errno.ENOENT: "this file has no buffer with handle {handle} (freed "
                      "already, or another open file's)",
    },
    "SYNC": {
        errno.ENOENT: "this file has no buffer with handle {handle} (freed "
                      "already, or another open file's)",
        errno.EINVAL: "bytes {offset}..{end} are not inside the buffer",
    },
    "SUBMIT": {
        errno.EOPNOTSUPP: "gathering several pieces into one packet (or "
                          "coalescing) needs an IP built with "
                          "scatter-gather; this one is in direct mode",
        errno.EMSGSIZE: "the transfer is longer than one transfer may be: "
                        "{limit}",
        errno.ENOENT: "the buffer was freed (or is another open file's)",
        errno.EAGAIN: "a channel holds transfers whose sequence numbers "
                      f"span at most {_uapi.RESULTS} from its oldest "
                      "outstanding one (so that each one's result is kept "
                      "for wait()): wait() for the oldest, then queue "
                      "more; nothing of this request was queued",
    },
    "RESET": {
        errno.EPERM: "another open file has transfers on the core, which a "
                     "reset would end: that takes CAP_SYS_RAWIO (or wait "
                     "until they end); a channel halted on an error may "
                     "always be reset",
    },
    "CANCEL": {
        errno.EBUSY: "the transfer is running, and stopping it resets the "
                     "core under another open file's running transfer: "
                     "that takes CAP_SYS_RAWIO; wait() for it instead",
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
        errno.ENOENT: "this file has no buffer with handle {handle} (freed "
                      "already, or another open file's)",
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
    },
}


class Device:
    """An open dmak device, ``/dev/dmakN``.

    ``path_or_index`` names the device: the IP's name (``"axi_dma_0"``,
    its ``xlnx,name`` or DT label) or node name (``"dma@40400000"``), its
    register base address (an int of at least ``BASE_MIN``, 0x1000), an
    index N for ``/dev/dmakN`` (a smaller int), a path (a str with a
    ``/``), an entry of :func:`devices`, or None for the first device
    present. A name or address that matches nothing raises
    :class:`DeviceNotFoundError` listing the devices there are. Buffers
    allocated through a device belong to it: closing the device frees them
    once nothing maps them any more.
    """

    def __init__(self, path_or_index: Union[str, int, DeviceEntry, None]
                 = None) -> None:
        self.path = _resolve(path_or_index)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            raise DeviceNotFoundError.explain(self.path) from None
        except PermissionError as exc:
            raise PermissionError(
                exc.errno, f"{self.path}: permission denied: join group "
                "dmak ('sudo usermod -aG dmak $USER', then log in again; "
                "'make dkms-install' creates the group and the udev rule "
                "that gives it the devices), or run as root") from None
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

    _cache_alignment: Optional[int] = None

    @property
    def cache_alignment(self) -> int:
        """Bytes an S2MM range of cached memory must start and end on.

        The CPU's cache line where the device does not snoop the CPU caches
        (most ARM boards), 1 where it does (sysfs ``cache_alignment``; 1 as
        well for a module without the attribute). See
        :mod:`pydmak.cachelines`.
        """
        if self._cache_alignment is None:
            rdev = os.fstat(self.fileno()).st_rdev
            text = _sysfs_text(f"/sys/dev/char/{os.major(rdev)}:"
                               f"{os.minor(rdev)}", "cache_alignment")
            self._cache_alignment = int(text) if text else 1
        return self._cache_alignment

    @property
    def name(self) -> Optional[str]:
        """The IP's name as sysfs gives it (e.g. ``axi_dma_0``), or None."""
        return _sysfs_text(os.path.join(
            SYSFS_CLASS, os.path.basename(self.path)), "name") or None

    def registers(self) -> Tuple[int, Tuple[int, ...]]:
        """Reads every register of the IP (``DMAK_IOC_REGS``).

        Returns ``(present, words)``: ``words[n]`` is the register at byte
        offset ``4 * n``, and bit n of ``present`` says whether the IP has
        it. See :mod:`pydmak.registers` for names and fields.
        """
        raw = _uapi.dmak_regs()
        self._call("REGS", _uapi.IOC_REGS, raw)
        return raw.present, tuple(raw.regs)

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
                         mmap_offset=raw.mmap_offset, dma_addr=raw.dma_addr,
                         imported=True)

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
