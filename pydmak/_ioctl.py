"""ioctl(2) through ctypes: the GIL is released and errno is real."""

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
_ioctl = _libc.ioctl
_ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
_ioctl.restype = ctypes.c_int


def ioctl(fd: int, request: int, arg: ctypes.Structure) -> int:
    """Calls ioctl(fd, request, &arg); raises OSError with errno on failure.

    ``arg`` is read and written in place.
    """
    ret = _ioctl(fd, request, ctypes.addressof(arg))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret
