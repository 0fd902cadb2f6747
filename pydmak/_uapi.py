"""ctypes mirror of ``kmod/include/uapi/dmak.h`` and the ioctl encoding.

Every structure here must match the C header byte for byte; the host test
``tests/host/test_abi.py`` compiles a program against the header and
compares sizes, field offsets and ioctl numbers with this module.
"""

import ctypes

ABI_VERSION = 1

# dmak_info.flags
INFO_MM2S = 1 << 0
INFO_S2MM = 1 << 1
INFO_SG = 1 << 2
INFO_DRE = 1 << 3

# dmak_alloc.flags
BUF_COHERENT = 0
BUF_CACHED = 1 << 0

# dmak_sync.direction
SYNC_TO_DEVICE = 1
SYNC_FROM_DEVICE = 2
SYNC_BIDIRECTIONAL = 3

# Linux's generic ioctl encoding (x86, arm, arm64, riscv).
_IOC_NRBITS, _IOC_TYPEBITS, _IOC_SIZEBITS = 8, 8, 14
_IOC_NRSHIFT = 0
_IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS
_IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS
_IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS
_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2


def _ioc(direction: int, magic: int, nr: int, struct: type) -> int:
    size = ctypes.sizeof(struct)
    if size >= 1 << _IOC_SIZEBITS:
        raise ValueError(f"{struct.__name__} is too large for an ioctl")
    return ((direction << _IOC_DIRSHIFT) | (magic << _IOC_TYPESHIFT)
            | (nr << _IOC_NRSHIFT) | (size << _IOC_SIZESHIFT))


def _ior(magic, nr, struct):
    return _ioc(_IOC_READ, magic, nr, struct)


def _iow(magic, nr, struct):
    return _ioc(_IOC_WRITE, magic, nr, struct)


def _iowr(magic, nr, struct):
    return _ioc(_IOC_READ | _IOC_WRITE, magic, nr, struct)


class dmak_info(ctypes.Structure):
    _fields_ = [
        ("abi_version", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("length_width", ctypes.c_uint32),
        ("addr_width", ctypes.c_uint32),
        ("data_width", ctypes.c_uint32),
        ("ring_size", ctypes.c_uint32),
        ("max_transfer", ctypes.c_uint64),
        ("buf_quota", ctypes.c_uint64),
        ("buf_used", ctypes.c_uint64),
        ("reserved", ctypes.c_uint64 * 4),
    ]


class dmak_alloc(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_uint64),
        ("flags", ctypes.c_uint32),
        ("handle", ctypes.c_uint32),
        ("mmap_offset", ctypes.c_uint64),
        ("dma_addr", ctypes.c_uint64),
    ]


class dmak_free(ctypes.Structure):
    _fields_ = [
        ("handle", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
    ]


class dmak_sync(ctypes.Structure):
    _fields_ = [
        ("handle", ctypes.c_uint32),
        ("direction", ctypes.c_uint32),
        ("offset", ctypes.c_uint64),
        ("size", ctypes.c_uint64),
    ]


IOC_MAGIC = 0xDA

IOC_INFO = _ior(IOC_MAGIC, 0x00, dmak_info)
IOC_ALLOC = _iowr(IOC_MAGIC, 0x01, dmak_alloc)
IOC_FREE = _iow(IOC_MAGIC, 0x02, dmak_free)
IOC_SYNC = _iow(IOC_MAGIC, 0x03, dmak_sync)

#: name -> ctypes structure, for the ABI check
STRUCTS = {
    "dmak_info": dmak_info,
    "dmak_alloc": dmak_alloc,
    "dmak_free": dmak_free,
    "dmak_sync": dmak_sync,
}

#: name -> ioctl number, for the ABI check
IOCTLS = {
    "DMAK_IOC_INFO": IOC_INFO,
    "DMAK_IOC_ALLOC": IOC_ALLOC,
    "DMAK_IOC_FREE": IOC_FREE,
    "DMAK_IOC_SYNC": IOC_SYNC,
}
