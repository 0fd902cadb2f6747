"""libc calls through ctypes: ioctl(2) and a mapping swap with mmap(2).

ctypes releases the GIL around each call and errno is the real one.
"""

import ctypes
import mmap
import os

_libc = ctypes.CDLL(None, use_errno=True)

_ioctl = _libc.ioctl
_ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
_ioctl.restype = ctypes.c_int

_mmap = _libc.mmap
_mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                  ctypes.c_int, ctypes.c_int, ctypes.c_long]
_mmap.restype = ctypes.c_void_p

_MAP_FAILED = ctypes.c_void_p(-1).value
_MAP_FIXED = 0x10
_MAP_ANONYMOUS = 0x20


def _raise_errno() -> None:
    err = ctypes.get_errno()
    raise OSError(err, os.strerror(err))


def ioctl(fd: int, request: int, arg: ctypes.Structure) -> int:
    """Calls ioctl(fd, request, &arg); raises OSError with errno on failure.

    ``arg`` is read and written in place.
    """
    ret = _ioctl(fd, request, ctypes.addressof(arg))
    if ret < 0:
        _raise_errno()
    return ret


def replace_with_anonymous(addr: int, length: int) -> None:
    """Swaps the pages at ``addr`` for private zero pages, in place.

    Whatever mapped them (a DMA buffer) is unmapped, yet every pointer into
    the range stays valid: arrays over it read zeros instead of faulting.
    """
    ret = _mmap(addr, length, mmap.PROT_READ | mmap.PROT_WRITE,
                mmap.MAP_PRIVATE | _MAP_ANONYMOUS | _MAP_FIXED, -1, 0)
    if ret == _MAP_FAILED:
        _raise_errno()
