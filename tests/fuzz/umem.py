"""libc calls through ctypes, and user memory good and bad for arguments.

Every call returns the raw result and errno, so that a fuzzer can pass any
address (a pointer into a page that was unmapped, a kernel address) and
see what the kernel answers; Python itself never touches bad memory.
"""

import ctypes
import mmap

libc = ctypes.CDLL(None, use_errno=True)

PAGE = mmap.PAGESIZE
PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC = 0, 1, 2, 4
MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE = 0x01, 0x02, 0x03
MAP_FIXED, MAP_ANONYMOUS, MAP_POPULATE = 0x10, 0x20, 0x8000
MAP_FIXED_NOREPLACE = 0x100000
MREMAP_MAYMOVE = 1
MAP_FAILED = ctypes.c_void_p(-1).value

# ioctl() and mmap() as pydmak declares them, errno kept
from pydmak._libc import _ioctl, _mmap  # noqa: E402
_munmap = libc.munmap
_munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_mprotect = libc.mprotect
_mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_mremap = libc.mremap
_mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                    ctypes.c_int]
_mremap.restype = ctypes.c_void_p
_read = libc.read
_read.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
_read.restype = ctypes.c_ssize_t


def _result(ret, failed):
    return (ret, ctypes.get_errno()) if failed else (ret, 0)


def ioctl(fd, request, addr):
    """ioctl(fd, request, addr) -> (ret, errno); ``addr`` is an int."""
    ret = _ioctl(fd, request & 0xFFFFFFFF, addr or None)
    return _result(ret, ret < 0)


def read(fd, addr, length):
    """read(fd, addr, length) -> (bytes read or -1, errno)."""
    ret = _read(fd, addr or None, length)
    return _result(ret, ret < 0)


def mmap_(addr, length, prot, flags, fd, offset):
    """mmap() -> (address or None, errno); ``offset`` any 64-bit value."""
    if offset >= 1 << 63:
        offset -= 1 << 64
    ret = _mmap(addr or None, length, prot, flags, fd, offset)
    if ret == MAP_FAILED or ret is None:
        return None, ctypes.get_errno()
    return ret, 0


def munmap(addr, length):
    """munmap() -> errno (0 on success)."""
    return 0 if _munmap(addr, length) == 0 else ctypes.get_errno()


def mprotect(addr, length, prot):
    """mprotect() -> errno (0 on success)."""
    return 0 if _mprotect(addr, length, prot) == 0 else ctypes.get_errno()


def mremap(addr, old, new, flags):
    """mremap() -> (new address or None, errno)."""
    ret = _mremap(addr, old, new, flags)
    if ret == MAP_FAILED or ret is None:
        return None, ctypes.get_errno()
    return ret, 0


def fields(struct):
    """A ctypes structure as a dict, arrays as lists (for reports)."""
    out = {}
    for name, _ in struct._fields_:
        value = getattr(struct, name)
        out[name] = list(value) if isinstance(value, ctypes.Array) else value
    return out


class Arena:
    """Argument memory: a read-write area, a read-only page, a PROT_NONE
    page, and a page that was unmapped, placed far below where mmap()
    puts new mappings (so that it stays a hole) and right after a
    read-write page (so that a structure can straddle into it)."""

    RW_PAGES = 2 * 1024 * 1024 // PAGE     # read() buffers up to 2 MiB
    HINT = 0x1000_0000_0000

    def __init__(self):
        self.rw = self._map(self.RW_PAGES * PAGE, PROT_READ | PROT_WRITE)
        self.ro = self._map(PAGE, PROT_READ | PROT_WRITE)
        self.none = self._map(PAGE, PROT_NONE)
        edge, err = mmap_(self.HINT, 2 * PAGE, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                          -1, 0)
        if edge is None:
            raise OSError(err, "cannot map the arena's edge pages")
        self.edge = edge                    # read-write page
        self.hole = edge + PAGE             # unmapped below
        munmap(self.hole, PAGE)
        mprotect(self.ro, PAGE, PROT_READ)

    @staticmethod
    def _map(length, prot):
        addr, err = mmap_(0, length, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                          0)
        if addr is None:
            raise OSError(err, "cannot map the arena")
        return addr

    def put(self, struct, addr=None):
        """Copies ``struct`` into read-write memory (at ``addr``, default
        the start of the arena) and returns the address."""
        addr = self.rw if addr is None else addr
        ctypes.memmove(addr, ctypes.addressof(struct), ctypes.sizeof(struct))
        return addr

    def put_readonly(self, struct):
        """``struct`` in the read-only page: readable, not writable."""
        mprotect(self.ro, PAGE, PROT_READ | PROT_WRITE)
        ctypes.memmove(self.ro, ctypes.addressof(struct),
                       ctypes.sizeof(struct))
        mprotect(self.ro, PAGE, PROT_READ)
        return self.ro

    def put_straddling(self, struct, readable):
        """``struct`` with only its first ``readable`` bytes mapped, the
        rest in the unmapped page after them."""
        size = ctypes.sizeof(struct)
        addr = self.hole - readable
        ctypes.memmove(addr, ctypes.addressof(struct), min(readable, size))
        return addr

    def get(self, cls, addr=None):
        """A copy of the ``cls`` structure at ``addr`` (read-write memory)."""
        addr = self.rw if addr is None else addr
        return cls.from_buffer_copy(ctypes.string_at(addr, ctypes.sizeof(cls)))


#: kinds of bad user addresses, each a function of (arena, rng)
BAD_ADDRESSES = {
    "null": lambda a, r: 0,
    "low": lambda a, r: r.randrange(1, PAGE),
    "unmapped": lambda a, r: a.hole + r.randrange(0, PAGE - 64),
    "prot_none": lambda a, r: a.none + r.randrange(0, PAGE - 64),
    "kernel": lambda a, r: 0xFFFF_8880_0000_0000 + r.randrange(0, 1 << 30),
    "noncanonical": lambda a, r: r.randrange(1 << 47, 0xFFFF_8000_0000_0000),
    "all_ones": lambda a, r: 0xFFFF_FFFF_FFFF_FFFF,
    "high_bit": lambda a, r: a.rw | (1 << r.randrange(47, 64)),
}
