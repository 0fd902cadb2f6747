"""ctypes mirror of ``kmod/include/uapi/dmak.h`` and the ioctl encoding.

Every structure here must match the C header byte for byte; the host test
``tests/host/test_abi.py`` compiles a program against the header and
compares sizes, field offsets and ioctl numbers with this module.
"""

import ctypes

ABI_VERSION = 5

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
        ("desc_max", ctypes.c_uint64),
        ("delay_unit_ns", ctypes.c_uint32),
        ("reserved0", ctypes.c_uint32),
        ("reserved", ctypes.c_uint64 * 2),
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
        ("flags", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32 * 3),
    ]


# channels
MM2S = 0
S2MM = 1

# dmak_xfer.flags
XFER_NO_SYNC = 1 << 0
XFER_MORE = 1 << 1      # SG: the next entry continues this transfer (gather)

SUBMIT_MAX = 256

# transfer status
ST_OK = 0
ST_DMA_INT_ERR = 1
ST_DMA_SLV_ERR = 2
ST_DMA_DEC_ERR = 3
ST_SG_INT_ERR = 4
ST_SG_SLV_ERR = 5
ST_SG_DEC_ERR = 6
ST_CANCELLED = 7
ST_RESET = 8
ST_ABORTED = 9
ST_REMOVED = 10

WAIT_FOREVER = 0xFFFFFFFF
WAIT_PEEK = 1 << 0
RESULTS = 1024

# dmak_chan_op.op
OP_STATUS = 0
OP_RESET = 1
OP_CANCEL = 2
OP_STOP = 3
OP_START = 4
OP_COALESCE = 5

# dmak_completion.flags
COMPL_OVERFLOW = 1 << 0     # records were lost before this one
COMPL_CYCLIC = 1 << 1       # a cyclic slot filled
COMPL_SOF = 1 << 2          # cyclic: the slot starts a packet (RXSOF)
COMPL_EOF = 1 << 3          # cyclic: the slot ends a packet (RXEOF)
COMPL_OVERRUN = 1 << 4      # cyclic: every slot was full before this one
RECORDS = 256

# dmak_cyclic.op
CYCLIC_START = 0
CYCLIC_RELEASE = 1
CYCLIC_STOP = 2
CYCLIC_STATUS = 3


class dmak_xfer(ctypes.Structure):
    _fields_ = [
        ("channel", ctypes.c_uint32),
        ("handle", ctypes.c_uint32),
        ("offset", ctypes.c_uint64),
        ("length", ctypes.c_uint64),
        ("cookie", ctypes.c_uint64),
        ("flags", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
        ("seq", ctypes.c_uint64),
    ]


class dmak_submit(ctypes.Structure):
    _fields_ = [
        ("xfers", ctypes.c_uint64),
        ("count", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
    ]


class dmak_wait(ctypes.Structure):
    _fields_ = [
        ("channel", ctypes.c_uint32),
        ("timeout_ms", ctypes.c_uint32),
        ("seq", ctypes.c_uint64),
        ("bytes", ctypes.c_uint64),
        ("status", ctypes.c_uint32),
        ("dmasr", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32 * 3),
    ]


class dmak_chan_op(ctypes.Structure):
    _fields_ = [
        ("channel", ctypes.c_uint32),
        ("op", ctypes.c_uint32),
        ("seq", ctypes.c_uint64),
        ("dmacr", ctypes.c_uint32),
        ("dmasr", ctypes.c_uint32),
        ("queued", ctypes.c_uint32),
        ("error", ctypes.c_uint32),
        ("irq_threshold", ctypes.c_uint32),
        ("irq_delay", ctypes.c_uint32),
        ("irqs", ctypes.c_uint64),
        ("flags", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32 * 3),
    ]


class dmak_completion(ctypes.Structure):
    _fields_ = [
        ("seq", ctypes.c_uint64),
        ("cookie", ctypes.c_uint64),
        ("bytes", ctypes.c_uint64),
        ("channel", ctypes.c_uint32),
        ("status", ctypes.c_uint32),
        ("dmasr", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
    ]


class dmak_channel_fd(ctypes.Structure):
    _fields_ = [
        ("channel", ctypes.c_uint32),
        ("fd", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
    ]


class dmak_cyclic(ctypes.Structure):
    _fields_ = [
        ("channel", ctypes.c_uint32),
        ("op", ctypes.c_uint32),
        ("handle", ctypes.c_uint32),
        ("slots", ctypes.c_uint32),
        ("offset", ctypes.c_uint64),
        ("slot_size", ctypes.c_uint64),
        ("seq", ctypes.c_uint64),
        ("filled", ctypes.c_uint64),
        ("released", ctypes.c_uint64),
        ("overruns", ctypes.c_uint64),
        ("reserved", ctypes.c_uint64 * 2),
    ]


# dmak_regs: one word per 32-bit register, offsets 0x00 to 0x58
REGS_WORDS = 23


class dmak_regs(ctypes.Structure):
    _fields_ = [
        ("present", ctypes.c_uint32),
        ("regs", ctypes.c_uint32 * REGS_WORDS),
        ("reserved", ctypes.c_uint64 * 2),
    ]


class dmak_export(ctypes.Structure):
    _fields_ = [
        ("handle", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("fd", ctypes.c_int32),
        ("reserved", ctypes.c_uint32),
    ]


class dmak_import(ctypes.Structure):
    _fields_ = [
        ("fd", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
        ("handle", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
        ("size", ctypes.c_uint64),
        ("mmap_offset", ctypes.c_uint64),
        ("dma_addr", ctypes.c_uint64),
    ]


IOC_MAGIC = 0xDA

IOC_INFO = _ior(IOC_MAGIC, 0x00, dmak_info)
IOC_ALLOC = _iowr(IOC_MAGIC, 0x01, dmak_alloc)
IOC_FREE = _iow(IOC_MAGIC, 0x02, dmak_free)
IOC_SYNC = _iow(IOC_MAGIC, 0x03, dmak_sync)
IOC_SUBMIT = _iow(IOC_MAGIC, 0x04, dmak_submit)
IOC_WAIT = _iowr(IOC_MAGIC, 0x05, dmak_wait)
IOC_CHAN_OP = _iowr(IOC_MAGIC, 0x06, dmak_chan_op)
IOC_CHANNEL_FD = _iowr(IOC_MAGIC, 0x07, dmak_channel_fd)
IOC_CYCLIC = _iowr(IOC_MAGIC, 0x08, dmak_cyclic)
IOC_REGS = _ior(IOC_MAGIC, 0x09, dmak_regs)
IOC_EXPORT = _iowr(IOC_MAGIC, 0x0A, dmak_export)
IOC_IMPORT = _iowr(IOC_MAGIC, 0x0B, dmak_import)

#: name -> ctypes structure, for the ABI check
STRUCTS = {
    "dmak_info": dmak_info,
    "dmak_alloc": dmak_alloc,
    "dmak_free": dmak_free,
    "dmak_sync": dmak_sync,
    "dmak_xfer": dmak_xfer,
    "dmak_submit": dmak_submit,
    "dmak_wait": dmak_wait,
    "dmak_chan_op": dmak_chan_op,
    "dmak_completion": dmak_completion,
    "dmak_channel_fd": dmak_channel_fd,
    "dmak_cyclic": dmak_cyclic,
    "dmak_regs": dmak_regs,
    "dmak_export": dmak_export,
    "dmak_import": dmak_import,
}

#: name -> ioctl number, for the ABI check
IOCTLS = {
    "DMAK_IOC_INFO": IOC_INFO,
    "DMAK_IOC_ALLOC": IOC_ALLOC,
    "DMAK_IOC_FREE": IOC_FREE,
    "DMAK_IOC_SYNC": IOC_SYNC,
    "DMAK_IOC_SUBMIT": IOC_SUBMIT,
    "DMAK_IOC_WAIT": IOC_WAIT,
    "DMAK_IOC_CHAN_OP": IOC_CHAN_OP,
    "DMAK_IOC_CHANNEL_FD": IOC_CHANNEL_FD,
    "DMAK_IOC_CYCLIC": IOC_CYCLIC,
    "DMAK_IOC_REGS": IOC_REGS,
    "DMAK_IOC_EXPORT": IOC_EXPORT,
    "DMAK_IOC_IMPORT": IOC_IMPORT,
}
