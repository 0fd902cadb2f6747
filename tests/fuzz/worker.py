"""One fuzzing process: random and boundary calls on /dev/dmak0 and 1.

A ``Worker`` holds two open files of each device, their buffers, the
seqs it was given, mappings, channel files and dma-bufs, and makes
``calls`` calls picked at random from its actions: every ioctl with
random and boundary values in every field, bad user pointers, unknown
numbers, mmap()/munmap()/mremap(), read() and poll() of the device and
its channel files, SUBMIT storms, closing and reopening a file, fork()
with the files and mappings shared, and (as root) the simulator's fault
injection. Each result is checked against ``contract``; what breaks it
is a problem, written as a JSON line on stdout (with the progress and,
at the end, the counts) for the runner to collect.
"""

import argparse
import collections
import contextlib
import ctypes
import errno
import fcntl
import importlib.util
import json
import os
import pathlib
import random
import resource
import select
import signal
import threading
import time
import traceback

import contract
import umem
from umem import PAGE


def _load_uapi():
    """pydmak/_uapi.py of the tree, alone: importing the package would
    import numpy, seconds of start-up per process under TCG."""
    path = pathlib.Path(__file__).resolve().parents[2] / "pydmak" / \
        "_uapi.py"
    spec = importlib.util.spec_from_file_location("dmak_uapi", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


U = _load_uapi()

DEVICES = (0, 1)
FAULTS = ("decerr", "slverr", "interr", "no-tlast", "lost-irq", "stall",
          "sg-decerr", "sg-slverr", "sg-interr")
#: cookie of the transfers of a SUBMIT whose xfers array was read-only:
#: SUBMIT answers EFAULT for them, so none may ever be reported
EFAULT_TAG = 0xEFA0 << 48
TAG_MASK = 0xFFFF << 48
U32_EDGES = (0, 1, 2, 3, 4, 7, 8, 31, 32, 63, 64, 255, 256, 257, 1023, 1024,
             1025, 4095, 4096, 4097, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE,
             0xFFFFFFFF)
U64_EDGES = U32_EDGES + ((1 << 26) - 1, 1 << 26, 1 << 32, (1 << 32) + 1,
                         (1 << 63) - 1, 1 << 63, (1 << 64) - 1)
OPS = {U.OP_STATUS: "STATUS", U.OP_RESET: "RESET", U.OP_CANCEL: "CANCEL",
       U.OP_STOP: "STOP", U.OP_START: "START", U.OP_COALESCE: "COALESCE"}
CYCLIC_OPS = {U.CYCLIC_START: "START", U.CYCLIC_RELEASE: "RELEASE",
              U.CYCLIC_STOP: "STOP", U.CYCLIC_STATUS: "STATUS"}
#: (name, number, structure, the kernel reads it, the kernel writes it)
IOCTLS = (
    ("INFO", U.IOC_INFO, U.dmak_info, False, True),
    ("ALLOC", U.IOC_ALLOC, U.dmak_alloc, True, True),
    ("FREE", U.IOC_FREE, U.dmak_free, True, False),
    ("SYNC", U.IOC_SYNC, U.dmak_sync, True, False),
    ("SUBMIT", U.IOC_SUBMIT, U.dmak_submit, True, False),
    ("WAIT", U.IOC_WAIT, U.dmak_wait, True, True),
    ("CHAN_OP", U.IOC_CHAN_OP, U.dmak_chan_op, True, True),
    ("CHANNEL_FD", U.IOC_CHANNEL_FD, U.dmak_channel_fd, True, True),
    ("CYCLIC", U.IOC_CYCLIC, U.dmak_cyclic, True, True),
    ("REGS", U.IOC_REGS, U.dmak_regs, False, True),
    ("EXPORT", U.IOC_EXPORT, U.dmak_export, True, True),
    ("IMPORT", U.IOC_IMPORT, U.dmak_import, True, True),
)
KNOWN_NUMBERS = {number & 0xFFFFFFFF for _, number, *_ in IOCTLS}
SIM_FAULT = "/sys/kernel/debug/dmak-sim/{}/fault"


class DevFile:
    """An open file of /dev/dmakN and what this process knows of it."""

    def __init__(self, index, fd):
        self.index = index
        self.fd = fd
        self.bufs = {}                      # handle -> (size, flags)
        self.seqs = ([], [])                # recent seqs, per channel

    def add_seq(self, channel, seq):
        seqs = self.seqs[channel]
        seqs.append(seq)
        del seqs[:-256]


class Worker:
    """Makes ``calls`` random calls; see the module's docstring."""

    def __init__(self, wid, seed, calls, privileged=True, alone=True):
        self.wid = wid
        self.rng = random.Random(f"{seed}:{wid}")
        self.target = calls
        self.privileged = privileged
        self.alone = alone                  # no other process of its user
        self.arena = umem.Arena()
        self.files = []
        self.chfds = []                     # channel files
        self.dmabufs = []
        self.maps = []                      # [addr, length, prot]
        self.calls = 0
        self.stats = collections.Counter()
        self.problems = collections.Counter()
        self.info = {}
        self.regs_present = {}
        self.started = time.monotonic()
        self.last_progress = 0.0
        self.keep = None                    # an array a call points to
        self.keep_race = None               # the same, of act_race
        self.racing = False                 # a second thread runs
        signal.signal(signal.SIGALRM, lambda *_: None)
        for index in DEVICES:
            for _ in range(2):
                self.files.append(self._open(index))
            info = U.dmak_info()
            umem.ioctl(self.files[-1].fd, U.IOC_INFO, ctypes.addressof(info))
            self.info[index] = info

    # -- reporting -------------------------------------------------------

    def emit(self, what, **data):
        """One JSON line on stdout, written whole (also from a child)."""
        data["t"] = what
        data["wid"] = self.wid
        os.write(1, (json.dumps(data, default=str) + "\n").encode())

    def problem(self, kind, call, err, args, note=""):
        """Counts a problem; the first three of each kind are reported in
        full."""
        key = (kind, call, errno.errorcode.get(err, str(err)))
        self.problems[key] += 1
        if self.problems[key] <= 3:
            self.emit("problem", kind=kind, call=call, errno=key[2],
                      args=args, note=note)

    def account(self, call, err, args, bad=False, signalled=False,
                extra=()):
        """Counts one call and checks its errno against the contract."""
        self.calls += 1
        self.stats[f"{call} {errno.errorcode.get(err, err) if err else 'ok'}"
                   ] += 1
        if err == errno.EFAULT and not bad:
            self.problem("EFAULT for memory the caller owns", call, err, args)
        elif not contract.check(call, err, bad, signalled, extra):
            self.problem("errno not in the contract", call, err, args)
        now = time.monotonic()
        if now - self.last_progress > 1.0:
            self.last_progress = now
            self.emit("progress", calls=self.calls)
        return err

    def ioctl(self, call, f, number, addr, args, **kw):
        """An ioctl on ``f`` (a DevFile or a descriptor), accounted."""
        fd = f.fd if isinstance(f, DevFile) else f
        _, err = umem.ioctl(fd, number, addr)
        return self.account(call, err, args, **kw)

    @contextlib.contextmanager
    def timer(self, seconds):
        """SIGALRM after ``seconds`` and every 0.1 s after, until the
        block ends: a blocking call returns EINTR instead of hanging."""
        signal.setitimer(signal.ITIMER_REAL, seconds, 0.1)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    # -- values ----------------------------------------------------------

    def chance(self, p):
        return self.rng.random() < p

    def u32(self):
        if self.chance(0.6):
            return self.rng.choice(U32_EDGES)
        return self.rng.getrandbits(32)

    def u64(self):
        if self.chance(0.6):
            return self.rng.choice(U64_EDGES)
        return self.rng.getrandbits(64)

    def junk32(self, good, p=0.04):
        return self.u32() if self.chance(p) else good

    def junk64(self, good, p=0.04):
        return self.u64() if self.chance(p) else good

    def junk_fd(self, good, p=0.04):
        """``good``, or at times any 32-bit value, as a signed int."""
        value = self.junk32(good, p)
        return value - (1 << 32) if value >= 1 << 31 else value

    def align(self, index):
        info = self.info[index]
        return 1 if info.flags & U.INFO_DRE else info.data_width // 8

    def is_sg(self, index):
        return bool(self.info[index].flags & U.INFO_SG)

    def pick_file(self, index=None):
        files = [f for f in self.files if index is None or f.index == index]
        return self.rng.choice(files)

    def other_file(self, f):
        others = [g for g in self.files if g.index == f.index and g is not f]
        return others[0] if others else None

    def pick_handle(self, f):
        """(handle, size or None): mostly one of ``f``'s buffers."""
        r = self.rng.random()
        if f.bufs and r < 0.8:
            handle = self.rng.choice(list(f.bufs))
            return handle, f.bufs[handle][0]
        other = self.other_file(f)
        if other and other.bufs and r < 0.88:
            return self.rng.choice(list(other.bufs)), None
        return self.rng.choice((0, 1, self.u32())), None

    def pick_seq(self, f, channel):
        seqs = f.seqs[channel]
        r = self.rng.random()
        if seqs and r < 0.6:
            return self.rng.choice(seqs[-8:])
        if seqs and r < 0.75:
            return self.rng.choice(seqs)
        if seqs and r < 0.85:
            return seqs[-1] + self.rng.choice((1, 2, 1000, 1 << 20))
        return self.u64()

    def own_buffer(self, f, size=4096, flags=None):
        """One of ``f``'s buffers of at least ``size`` bytes, allocated
        if it has none: (handle, size, flags), or None."""
        fits = [h for h, (s, _) in f.bufs.items() if s >= size]
        if fits:
            handle = self.rng.choice(fits)
            return (handle,) + f.bufs[handle]
        flags = self.rng.choice((0, U.BUF_CACHED)) if flags is None \
            else flags
        arg = U.dmak_alloc(size=size, flags=flags)
        if self.ioctl("ALLOC", f, U.IOC_ALLOC, ctypes.addressof(arg),
                      umem.fields(arg)):
            return None
        f.bufs[arg.handle] = (size, flags)
        return arg.handle, size, flags

    def fd_choices(self):
        """Descriptors to read() and poll(): files and channel files."""
        return [(f.fd, "device") for f in self.files] + \
               [(fd, "channel") for fd in self.chfds]

    # -- files -----------------------------------------------------------

    def _open(self, index):
        flags = os.O_RDWR | os.O_CLOEXEC
        return DevFile(index, os.open(f"/dev/dmak{index}", flags))

    def act_reopen(self):
        """Closes a file whatever it has queued, mapped or exported, and
        opens the device again."""
        f = self.pick_file()
        self.files.remove(f)
        os.close(f.fd)
        self.account("close", 0, {"device": f.index})
        self.files.append(self._open(f.index))
        self.account("open", 0, {"device": f.index})

    # -- ioctls ----------------------------------------------------------

    def act_info(self):
        f = self.pick_file()
        arg = U.dmak_info()
        addr = self.arena.put(arg)
        if self.ioctl("INFO", f, U.IOC_INFO, addr, {"device": f.index}):
            return
        out = self.arena.get(U.dmak_info, addr)
        if out.abi_version != U.ABI_VERSION or out.reserved0 or \
                any(out.reserved):
            self.problem("INFO reads wrong", "INFO", 0, umem.fields(out))

    def alloc_size(self):
        r = self.rng.random()
        if r < 0.6:
            return self.rng.randrange(1, 65536)
        if r < 0.8:
            return self.rng.choice((4096, 8192, 65536, 1 << 18, 1 << 20))
        if r < 0.83:
            return 4 << 20
        if r < 0.93:
            return self.rng.choice(((4 << 20) + 1, 8 << 20, 512 << 20,
                                    (512 << 20) + 1, 1 << 32, 1 << 63,
                                    (1 << 64) - 1, (1 << 64) - PAGE, 0))
        return self.u64()

    def act_alloc(self):
        f = self.pick_file()
        if len(f.bufs) >= 24:
            return self.act_free(f)
        arg = U.dmak_alloc(size=self.alloc_size(),
                           flags=self.junk32(self.rng.choice((0, 1))),
                           handle=self.junk32(0), mmap_offset=self.junk64(0))
        args = dict(umem.fields(arg), device=f.index)
        if self.ioctl("ALLOC", f, U.IOC_ALLOC, ctypes.addressof(arg), args):
            return
        if not arg.handle or arg.mmap_offset != arg.handle * PAGE or \
                arg.dma_addr % PAGE:
            self.problem("ALLOC answers wrong", "ALLOC", 0,
                         dict(args, out=umem.fields(arg)))
        f.bufs[arg.handle] = (arg.size, arg.flags)

    def act_free(self, f=None):
        f = f or self.pick_file()
        handle, _ = self.pick_handle(f)
        arg = U.dmak_free(handle=handle, reserved=self.junk32(0, 0.03))
        args = dict(umem.fields(arg), device=f.index)
        if not self.ioctl("FREE", f, U.IOC_FREE, ctypes.addressof(arg), args):
            f.bufs.pop(handle, None)

    def range_in(self, size, align=1):
        """(offset, length) inside a buffer of ``size`` bytes, aligned;
        at times on or past its edges."""
        if size is None or self.chance(0.1):
            return self.rng.choice(((0, 0), (0, 1), (size or 0, 1),
                                    (0, (size or 0) + 1), (1, size or 0),
                                    (self.u64(), self.u64()),
                                    (0, self.u64()), (self.u64(), 1)))
        offset = self.rng.randrange(0, size) // align * align
        return offset, self.rng.randrange(1, size - offset + 1)

    def act_sync(self):
        f = self.pick_file()
        handle, size = self.pick_handle(f)
        offset, length = self.range_in(size)
        direction = self.rng.choice((1, 2, 3)) if self.chance(0.9) else \
            self.rng.choice((0, 4, 7, self.u32()))
        arg = U.dmak_sync(handle=handle, direction=direction, offset=offset,
                          size=length, flags=self.junk32(0, 0.03))
        if self.chance(0.03):
            arg.reserved[self.rng.randrange(3)] = self.u32()
        self.ioctl("SYNC", f, U.IOC_SYNC, ctypes.addressof(arg),
                   dict(umem.fields(arg), device=f.index))

    def xfer(self, f, channel=None, flags=0):
        """A transfer entry on one of ``f``'s buffers, mostly valid."""
        handle, size = self.pick_handle(f)
        offset, length = self.range_in(size, self.align(f.index))
        if size and self.chance(0.5):
            length = min(length, self.rng.choice((4, 64, 256, 4096)))
        if self.chance(0.03):
            length = self.rng.choice((self.info[f.index].max_transfer,
                                      self.info[f.index].max_transfer + 1))
        if channel is None:
            channel = self.junk32(self.rng.choice((U.MM2S, U.S2MM)), 0.03)
        if self.chance(0.2):
            flags |= U.XFER_NO_SYNC
        return U.dmak_xfer(channel=channel, handle=handle, offset=offset,
                           length=length, cookie=self.u64() & ~TAG_MASK,
                           flags=self.junk32(flags, 0.03),
                           reserved=self.junk32(0, 0.02),
                           seq=self.junk64(0))

    def entries(self, f, n):
        """``n`` entries, with runs chained by XFER_MORE among them."""
        out = []
        while len(out) < n:
            if self.chance(0.15) and n - len(out) >= 2:
                run = self.rng.randrange(2, min(n - len(out), 6) + 1)
                channel = self.rng.choice((U.MM2S, U.S2MM))
                for i in range(run):
                    more = U.XFER_MORE if i < run - 1 else 0
                    out.append(self.xfer(f, channel, more))
                if self.chance(0.1):
                    out[-1].flags |= U.XFER_MORE      # ends the batch
            else:
                out.append(self.xfer(f))
        return out

    def submit(self, f, entries, count=None, where="arena", flags=0,
               call="SUBMIT"):
        """SUBMIT of ``entries``; their array at ``where``: "arena",
        "unaligned", "mapping" (a DMA buffer's mapping), "edge" (right
        before the unmapped page, so a count past the entries reads into
        it), "readonly" (SUBMIT cannot write the seqs back) or a kind of
        ``umem.BAD_ADDRESSES``. Records the seqs; returns the errno."""
        array = (U.dmak_xfer * len(entries))(*entries)
        size = ctypes.sizeof(array)
        count = len(entries) if count is None else count
        bad = False
        if where == "readonly" and size <= PAGE:
            for x in array:
                x.cookie = EFAULT_TAG | (x.cookie & ~TAG_MASK)
            addr, bad = self.arena.put_readonly(array), True
        elif where == "edge" and size <= PAGE:
            addr = self.arena.put(array, self.arena.hole - size)
            bad = count > len(entries)
        elif where == "mapping" and self.writable_map(size):
            addr = self.arena.put(array, self.writable_map(size))
            bad = count > len(entries)
        elif where == "unaligned":
            addr = self.arena.put(array, self.arena.rw + 8 * PAGE +
                                  self.rng.randrange(1, 8))
        elif where in umem.BAD_ADDRESSES:
            addr = umem.BAD_ADDRESSES[where](self.arena, self.rng)
            bad = True
        else:
            addr = self.arena.put(array, self.arena.rw + 8 * PAGE)
        sub = U.dmak_submit(xfers=addr, count=count, flags=flags)
        args = {"device": f.index, "count": count, "flags": flags,
                "where": where, "xfers": [umem.fields(x) for x in array]}
        err = self.ioctl(call, f, U.IOC_SUBMIT, ctypes.addressof(sub), args,
                         bad=bad)
        if err == errno.EIO and self.chance(0.3):
            self.reset(f)               # recover the channel halted
        if not err and where not in umem.BAD_ADDRESSES:
            out = (U.dmak_xfer * len(entries)).from_buffer_copy(
                ctypes.string_at(addr, size))
            for x in out[:count]:
                if x.channel in (U.MM2S, U.S2MM):
                    f.add_seq(x.channel, x.seq)
        return err

    def reset(self, f):
        arg = U.dmak_chan_op(channel=U.MM2S, op=U.OP_RESET)
        self.ioctl("CHAN_OP.RESET", f, U.IOC_CHAN_OP, ctypes.addressof(arg),
                   {"device": f.index})

    def act_submit(self):
        f = self.pick_file()
        r = self.rng.random()
        n = 1 if r < 0.4 else self.rng.randrange(2, 9) if r < 0.85 else \
            self.rng.randrange(9, U.SUBMIT_MAX + 1)
        entries = self.entries(f, n)
        count = None
        if self.chance(0.05):
            count = self.rng.choice((0, U.SUBMIT_MAX + 1, n + 1, n - 1,
                                     self.u32()))
        where = self.rng.choice(("arena",) * 6 + ("unaligned", "mapping",
                                                  "edge", "readonly"))
        self.submit(f, entries, count, where, flags=self.junk32(0, 0.03))

    def pieces(self, f, channel, handle, length, count):
        """Entries that gather (or scatter) ``length`` bytes from byte 0
        of a buffer in up to ``count`` pieces chained by XFER_MORE, each
        but the last a whole number of beats."""
        align = self.align(f.index)
        out, offset = [], 0
        for _ in range(count - 1):
            n = (length - offset) // 2 // align * align
            if n <= 0:
                break
            out.append(U.dmak_xfer(channel=channel, handle=handle,
                                   offset=offset, length=n,
                                   flags=U.XFER_MORE))
            offset += n
        out.append(U.dmak_xfer(channel=channel, handle=handle,
                               offset=offset, length=length - offset))
        return out

    def act_loopback(self):
        """A valid MM2S+S2MM pair in one batch, so that transfers run and
        complete; with SG maybe gathered from pieces and scattered into
        pieces (a packet shorter than the receive then makes the driver
        retire the pieces left), at times into a large cached buffer
        (synced for the CPU by a work item)."""
        f = self.pick_file()
        src = self.own_buffer(f, self.rng.choice((256, 4096, 65536)))
        dst = self.own_buffer(f, 1 << 20, U.BUF_CACHED) \
            if self.chance(0.1) else self.own_buffer(f, 256)
        if not src or not dst:
            return
        length = self.rng.randrange(1, min(src[1], dst[1]) + 1)
        if self.chance(0.5):
            length = min(length, 512)
        sg = self.is_sg(f.index)
        rx = self.pieces(f, U.S2MM, dst[0], dst[1],
                         self.rng.randrange(1, 5) if sg else 1)
        tx = self.pieces(f, U.MM2S, src[0], length,
                         self.rng.randrange(1, 4) if sg else 1)
        rx[-1].cookie = self.rng.getrandbits(32)
        entries = rx + tx if self.chance(0.5) else tx + rx
        if self.submit(f, entries) or self.chance(0.5):
            return
        seq = f.seqs[U.S2MM][-1]
        self.wait(f, U.S2MM, seq, self.rng.choice((0, 10, 100)))

    def act_storm(self):
        """S2MM transfers in batches of 256 until the channel is full
        (EAGAIN past 1024 outstanding), then maybe data for some."""
        f = self.pick_file()
        buf = self.own_buffer(f, 4096)
        if not buf:
            return
        rx = U.dmak_xfer(channel=U.S2MM, handle=buf[0], length=64)
        for _ in range(6):
            if self.submit(f, [rx] * U.SUBMIT_MAX):
                break
        if self.chance(0.5):
            tx = U.dmak_xfer(channel=U.MM2S, handle=buf[0], length=64)
            self.submit(f, [tx] * U.SUBMIT_MAX)

    def wait(self, f, channel, seq, timeout_ms, flags=0, reserved=(0, 0, 0)):
        arg = U.dmak_wait(channel=channel, seq=seq, timeout_ms=timeout_ms,
                          flags=flags)
        arg.reserved[:] = reserved
        args = dict(umem.fields(arg), device=f.index)
        blocking = timeout_ms > 250
        with self.timer(0.25) if blocking else contextlib.nullcontext():
            err = self.ioctl("WAIT", f, U.IOC_WAIT, ctypes.addressof(arg),
                             args, signalled=blocking)
        if not err and arg.status > U.ST_REMOVED:
            self.problem("WAIT answers wrong", "WAIT", 0,
                         dict(args, out=umem.fields(arg)))
        return err

    def act_wait(self):
        f = self.pick_file()
        channel = self.junk32(self.rng.choice((U.MM2S, U.S2MM)), 0.03)
        seq = self.pick_seq(f, channel if channel < 2 else 0)
        r = self.rng.random()
        timeout = 0 if r < 0.45 else self.rng.randrange(1, 50) if r < 0.85 \
            else self.rng.choice((300, 1000, U.WAIT_FOREVER, self.u32()))
        reserved = [0, 0, 0]
        if self.chance(0.03):
            reserved[self.rng.randrange(3)] = self.u32()
        flags = U.WAIT_PEEK if self.chance(0.2) else 0
        self.wait(f, channel, seq, timeout, self.junk32(flags, 0.03),
                  reserved)

    def act_chan_op(self):
        f = self.pick_file()
        channel = self.junk32(self.rng.choice((U.MM2S, U.S2MM)), 0.03)
        op = self.rng.choices(list(OPS), (30, 8, 25, 6, 12, 10))[0]
        op = self.junk32(op, 0.04)
        if op == U.OP_RESET and not self.chance(0.3):
            op = U.OP_STATUS                # RESETs end everyone's work
        arg = U.dmak_chan_op(channel=channel, op=op,
                             flags=self.junk32(0, 0.03))
        if op == U.OP_CANCEL:
            arg.seq = self.pick_seq(f, channel if channel < 2 else 0)
        else:
            arg.seq = self.junk64(0)
        if op == U.OP_COALESCE:
            arg.irq_threshold = self.rng.choice((0, 1, 2, 16, 255, 256)) \
                if self.chance(0.7) else self.u32()
            arg.irq_delay = self.rng.choice((0, 1, 10, 255, 256)) \
                if self.chance(0.7) else self.u32()
        if self.chance(0.03):
            arg.reserved[self.rng.randrange(3)] = self.u32()
        name = "CHAN_OP." + OPS[op] if op in OPS else "CHAN_OP"
        self.ioctl(name, f, U.IOC_CHAN_OP, ctypes.addressof(arg),
                   dict(umem.fields(arg), device=f.index))

    def act_channel_fd(self):
        f = self.pick_file()
        arg = U.dmak_channel_fd(
            channel=self.junk32(self.rng.choice((U.MM2S, U.S2MM)), 0.05),
            fd=self.junk_fd(0, 0.05),
            flags=self.junk32(0, 0.03), reserved=self.junk32(0, 0.03))
        if self.ioctl("CHANNEL_FD", f, U.IOC_CHANNEL_FD,
                      ctypes.addressof(arg),
                      dict(umem.fields(arg), device=f.index)):
            return
        self.chfds.append(arg.fd)
        if len(self.chfds) > 6:
            os.close(self.chfds.pop(0))

    def act_regs(self):
        f = self.pick_file()
        arg = U.dmak_regs()
        if self.ioctl("REGS", f, U.IOC_REGS, ctypes.addressof(arg),
                      {"device": f.index}):
            return
        known = self.regs_present.setdefault(f.index, arg.present)
        if arg.present != known or any(arg.reserved) or any(
                arg.regs[n] for n in range(U.REGS_WORDS)
                if not arg.present & 1 << n):
            self.problem("REGS reads wrong", "REGS", 0, umem.fields(arg))

    def act_cyclic(self):
        f = self.pick_file(1 if self.chance(0.8) else 0)
        op = self.rng.choices(list(CYCLIC_OPS), (35, 25, 15, 25))[0]
        op = self.junk32(op, 0.03)
        arg = U.dmak_cyclic(channel=self.junk32(U.S2MM, 0.05), op=op)
        if op == U.CYCLIC_START:
            handle, size = self.pick_handle(f)
            ring = self.info[f.index].ring_size or 16
            arg.handle = handle
            arg.slots = self.rng.randrange(2, min(ring, 16) + 1) \
                if self.chance(0.85) else self.u32()
            align = self.align(f.index)
            if size and arg.slots and size // arg.slots >= align and \
                    self.chance(0.85):
                arg.slot_size = self.rng.randrange(
                    1, size // arg.slots // align + 1) * align
                room = size - arg.slot_size * arg.slots
                arg.offset = self.rng.randrange(0, room + 1) // align * align
            else:
                arg.slot_size, arg.offset = self.u64(), self.junk64(0, 0.5)
            arg.seq = self.junk64(0, 0.03)
        elif op == U.CYCLIC_RELEASE:
            arg.seq = self.rng.choice((0, 1, 2, 8, 100)) \
                if self.chance(0.8) else self.u64()
        if self.chance(0.03):
            arg.reserved[self.rng.randrange(2)] = self.u64()
        name = "CYCLIC." + CYCLIC_OPS[op] if op in CYCLIC_OPS else "CYCLIC"
        args = dict(umem.fields(arg), device=f.index)
        err = self.ioctl(name, f, U.IOC_CYCLIC, ctypes.addressof(arg), args)
        if err == errno.EBUSY and self.privileged and self.chance(0.3):
            self.reset(f)               # end the S2MM queue, try again
            self.ioctl(name, f, U.IOC_CYCLIC, ctypes.addressof(arg), args)

    def act_export(self):
        f = self.pick_file()
        handle, _ = self.pick_handle(f)
        arg = U.dmak_export(handle=handle, flags=self.junk32(0, 0.03),
                            fd=self.junk_fd(0, 0.03),
                            reserved=self.junk32(0, 0.03))
        if self.ioctl("EXPORT", f, U.IOC_EXPORT, ctypes.addressof(arg),
                      dict(umem.fields(arg), device=f.index)):
            return
        self.dmabufs.append(arg.fd)
        if len(self.dmabufs) > 8:
            os.close(self.dmabufs.pop(0))

    def act_import(self):
        f = self.pick_file()
        r = self.rng.random()
        if self.dmabufs and r < 0.6:
            fd = self.rng.choice(self.dmabufs)
        elif r < 0.75:
            fd = self.rng.choice(self.fd_choices())[0]    # not a dma-buf
        elif r < 0.85:
            fd = 0                                        # stdin
        else:
            fd = self.rng.choice((-1, 1000, 0x7FFFFFFF, -(1 << 31)))
        arg = U.dmak_import(fd=fd, flags=self.junk32(0, 0.03),
                            handle=self.junk32(0, 0.03),
                            reserved=self.junk32(0, 0.03))
        if self.ioctl("IMPORT", f, U.IOC_IMPORT, ctypes.addressof(arg),
                      dict(umem.fields(arg), device=f.index)):
            return
        if arg.size == 0 or arg.mmap_offset != arg.handle * PAGE:
            self.problem("IMPORT answers wrong", "IMPORT", 0,
                         umem.fields(arg))
        f.bufs[arg.handle] = (arg.size, U.BUF_CACHED)

    def act_unknown(self):
        """An unknown number, or a known one with another size or
        direction: ENOTTY, whatever the argument."""
        fd = self.rng.choice(self.fd_choices())[0]
        while True:
            number = (self.rng.choice((0, 1, 2, 3)) << 30 |
                      self.rng.getrandbits(14) << 16 |
                      self.rng.choice((0xDA, 0xDA, 0xDB, 0x01)) << 8 |
                      self.rng.choice((self.rng.getrandbits(8),
                                       self.rng.randrange(12))))
            if number not in KNOWN_NUMBERS:
                break
        addr = self.arena.rw if self.chance(0.7) else \
            self.rng.choice(list(umem.BAD_ADDRESSES.values()))(
                self.arena, self.rng)
        self.ioctl("unknown", fd, number, addr, {"number": hex(number)})

    # -- bad pointers ----------------------------------------------------

    def valid_struct(self, f, name, cls):
        """A structure for ``name`` that is valid but for its address."""
        handle = self.own_buffer(f, 4096)
        handle = handle[0] if handle else 1
        channel = self.rng.choice((U.MM2S, U.S2MM))
        if name == "ALLOC":
            return cls(size=4096)
        if name in ("FREE", "EXPORT"):
            return cls(handle=handle)
        if name == "SYNC":
            return cls(handle=handle, direction=3, size=64)
        if name == "SUBMIT":
            rx = U.dmak_xfer(channel=U.S2MM, handle=handle, length=64)
            self.keep = (U.dmak_xfer * 1)(rx)
            return cls(xfers=ctypes.addressof(self.keep), count=1)
        if name == "WAIT":
            seqs = f.seqs[channel]
            return cls(channel=channel, seq=seqs[-1] if seqs else 1)
        if name == "CHAN_OP":
            return cls(channel=channel, op=U.OP_STATUS)
        if name == "CHANNEL_FD":
            return cls(channel=channel)
        if name == "CYCLIC":
            return cls(channel=U.S2MM, op=U.CYCLIC_STATUS)
        if name == "IMPORT":
            return cls(fd=self.dmabufs[-1] if self.dmabufs else -1)
        return cls()

    def act_badptr(self):
        """A valid call but for its argument's address: unmapped,
        PROT_NONE, a kernel or non-canonical address, read-only memory
        (bad only where the call writes back), or a structure straddling
        into an unmapped page."""
        f = self.pick_file()
        name, number, cls, reads, writes = self.rng.choice(IOCTLS)
        struct = self.valid_struct(f, name, cls)
        if name in ("CHAN_OP", "CYCLIC"):
            name += ".STATUS"
        size = ctypes.sizeof(cls)
        where = self.rng.choice(list(umem.BAD_ADDRESSES) +
                                ["readonly", "straddle"] * 2)
        used_before = self.buf_used(f) if name == "ALLOC" else None
        fds_before = lowest_free_fd()
        if where == "readonly":
            addr, bad = self.arena.put_readonly(struct), writes
        elif where == "straddle":
            readable = self.rng.randrange(0, size) // 4 * 4
            addr, bad = self.arena.put_straddling(struct, readable), True
        else:
            addr, bad = umem.BAD_ADDRESSES[where](self.arena, self.rng), True
        args = {"device": f.index, "where": where, "struct": umem.fields(
            struct)}
        err = self.ioctl(name, f, number, addr, args, bad=bad)
        if bad and not err:
            self.problem("success with an argument the kernel cannot "
                         "read or write", name, err, args)
        if err and name in ("CHANNEL_FD", "EXPORT") and not self.racing \
                and lowest_free_fd() != fds_before:
            self.problem("a failed call left a descriptor open", name, err,
                         args)
        # The quota counts per user: only a user's one process (with no
        # second thread of its own) sees its own ALLOCs alone.
        if used_before is not None and self.alone and not self.racing \
                and self.buf_used(f) > used_before:
            self.problem("ALLOC that answered EFAULT kept its memory",
                         name, err, args)

    def act_badxfers(self):
        """SUBMIT whose xfers array is bad, read-only or cut short."""
        f = self.pick_file()
        buf = self.own_buffer(f, 4096)
        if not buf:
            return
        n = self.rng.randrange(1, 5)
        entries = [U.dmak_xfer(channel=self.rng.choice((U.MM2S, U.S2MM)),
                               handle=buf[0], length=64,
                               cookie=self.rng.getrandbits(32))
                   for _ in range(n)]
        where = self.rng.choice(list(umem.BAD_ADDRESSES) +
                                ["readonly", "edge"] * 3)
        count = n + self.rng.randrange(1, 4) if where == "edge" else n
        self.submit(f, entries, count, where)

    def act_badread(self):
        fd, _ = self.rng.choice(self.fd_choices())
        where = self.rng.choice(list(umem.BAD_ADDRESSES) + ["readonly"])
        addr = self.arena.ro if where == "readonly" else \
            umem.BAD_ADDRESSES[where](self.arena, self.rng)
        self.read(fd, addr, self.rng.choice((32, 64, 4096)), where, True)

    def buf_used(self, f):
        info = U.dmak_info()
        umem.ioctl(f.fd, U.IOC_INFO, ctypes.addressof(info))
        return info.buf_used

    # -- cross-file visibility -------------------------------------------

    def act_foreign(self):
        """Another file's buffer, transfer or capture is not this file's
        to see: ENOENT (mmap: EINVAL), as if there were none."""
        f = self.pick_file()
        other = self.other_file(f)
        if not other:
            return
        if other.bufs:
            handle = self.rng.choice(list(other.bufs))
            calls = [
                ("FREE", U.IOC_FREE, U.dmak_free(handle=handle)),
                ("SYNC", U.IOC_SYNC, U.dmak_sync(handle=handle, direction=3,
                                                 size=1)),
                ("EXPORT", U.IOC_EXPORT, U.dmak_export(handle=handle)),
            ]
            name, number, arg = self.rng.choice(calls)
            self.expect(name, f, number, arg, {errno.ENOENT})
            addr, err = umem.mmap_(0, PAGE, umem.PROT_READ, umem.MAP_SHARED,
                                   f.fd, handle * PAGE)
            self.account("mmap", err, {"offset": handle * PAGE})
            if addr:
                umem.munmap(addr, PAGE)
                self.problem("another file's buffer maps", "mmap", 0,
                             {"handle": handle, "device": f.index})
        channel = self.rng.choice((U.MM2S, U.S2MM))
        if other.seqs[channel]:
            seq = self.rng.choice(other.seqs[channel][-8:])
            if self.chance(0.5):
                arg = U.dmak_wait(channel=channel, seq=seq)
                self.expect("WAIT", f, U.IOC_WAIT, arg, {errno.ENOENT})
            else:
                arg = U.dmak_chan_op(channel=channel, op=U.OP_CANCEL,
                                     seq=seq)
                self.expect("CHAN_OP.CANCEL", f, U.IOC_CHAN_OP, arg,
                            {errno.ENOENT})

    def expect(self, name, f, number, arg, errnos):
        args = dict(umem.fields(arg), device=f.index)
        err = self.ioctl(name, f, number, ctypes.addressof(arg), args)
        if err not in errnos:
            self.problem("another file's object answers otherwise", name,
                         err, args, note="expected " + ", ".join(
                             errno.errorcode[e] for e in errnos))

    # -- mappings --------------------------------------------------------

    def writable_map(self, size):
        for addr, length, prot in self.maps:
            if length >= size and prot & umem.PROT_WRITE:
                return addr
        return None

    def act_mmap(self):
        f = self.pick_file()
        handle, size = self.pick_handle(f)
        fd, kind = f.fd, "device"
        if self.chance(0.1) and self.dmabufs:
            fd, kind, size = self.rng.choice(self.dmabufs), "dma-buf", None
        elif self.chance(0.05) and self.chfds:
            fd, kind = self.rng.choice(self.chfds), "channel"
        offset = 0 if kind == "dma-buf" else handle * PAGE
        extra = set()
        if self.chance(0.08):
            offset, extra = self.rng.choice(
                ((offset + self.rng.randrange(1, PAGE), set()),
                 ((1 << 32) * PAGE, set()), (self.u64(), {"wrap"}),
                 ((1 << 64) - PAGE, {"wrap"})))
        whole = -(-(size or PAGE) // PAGE) * PAGE
        r = self.rng.random()
        length = whole if r < 0.5 else \
            self.rng.randrange(1, whole + 1) if r < 0.85 else \
            self.rng.choice((whole + 1, whole + PAGE, 0, 1 << 46))
        extra |= {"len0"} if length == 0 else \
            {"huge"} if length >= 1 << 40 else set()
        prot = umem.PROT_READ | umem.PROT_WRITE
        if self.chance(0.15):
            prot = self.rng.choice((umem.PROT_READ, umem.PROT_WRITE,
                                    umem.PROT_NONE, prot | umem.PROT_EXEC))
            if prot & umem.PROT_EXEC:
                extra.add("exec")
        flags = umem.MAP_SHARED
        r = self.rng.random()
        if r < 0.1:
            flags = umem.MAP_PRIVATE
        elif r < 0.15:
            flags = umem.MAP_SHARED_VALIDATE
        elif r < 0.18:
            flags = umem.MAP_SHARED_VALIDATE | 0x40000000
            extra.add("validate")
        elif r < 0.23:
            flags |= umem.MAP_POPULATE
        addr = 0
        if self.maps and self.chance(0.05):           # over a mapping
            addr, span, _ = self.rng.choice(self.maps)
            length = max(1, min(length, span))
            extra.discard("len0")
            extra.discard("huge")
            flags |= umem.MAP_FIXED
        errnos = set().union(*(contract.MMAP_KERNEL[e] for e in extra))
        if kind == "channel":           # read-only, and it has no mmap
            errnos |= {errno.ENODEV, errno.EACCES}
        args = {"device": f.index, "fd": kind, "offset": offset,
                "length": length, "prot": prot, "flags": hex(flags)}
        got, err = umem.mmap_(addr, length, prot, flags, fd, offset)
        self.account("mmap", err, args, extra=errnos)
        if flags & umem.MAP_FIXED:      # gone, even if the call failed
            self.forget_range(addr, length)
        if got is None:
            return
        if kind != "channel" and ((flags & 3) == umem.MAP_PRIVATE or
                                  size and length > whole):
            self.problem("mmap() maps what it must refuse", "mmap", 0, args,
                         note="private, or longer than the buffer")
        self.maps.append([got, -(-length // PAGE) * PAGE, prot])
        if len(self.maps) > 32:
            self.unmap(0)

    def forget_range(self, start, length):
        """Drops [start, start + length) from the mappings known."""
        end = start + -(-length // PAGE) * PAGE
        kept = []
        for addr, size, prot in self.maps:
            if addr < start:
                kept.append([addr, min(size, start - addr), prot])
            if addr + size > end:
                cut = max(addr, end)
                kept.append([cut, addr + size - cut, prot])
        self.maps = [m for m in kept if m[1] > 0]

    def unmap(self, i):
        addr, length, _ = self.maps.pop(i)
        umem.munmap(addr, length)

    def act_munmap(self):
        """Whole mappings, or pages at their head, tail or middle."""
        if not self.maps:
            return
        addr, length, _ = self.rng.choice(self.maps)
        pages = length // PAGE
        first = self.rng.randrange(pages) if self.chance(0.4) else 0
        count = self.rng.randrange(1, pages - first + 1) if \
            self.chance(0.4) else pages - first
        start, size = addr + first * PAGE, count * PAGE
        umem.munmap(start, size)
        self.forget_range(start, size)

    def act_remap(self):
        """mremap() (move, shrink, grow) or mprotect() of a mapping."""
        if not self.maps:
            return
        i = self.rng.randrange(len(self.maps))
        addr, length, prot = self.maps[i]
        if self.chance(0.5):
            prot = self.rng.choice((umem.PROT_READ, umem.PROT_NONE,
                                    umem.PROT_READ | umem.PROT_WRITE))
            if not umem.mprotect(addr, length, prot):
                self.maps[i][2] = prot
            return
        new = self.rng.choice((length, max(PAGE, length - PAGE),
                               length + PAGE))
        got, _ = umem.mremap(addr, length, new, umem.MREMAP_MAYMOVE)
        if got is not None:
            self.maps.pop(i)
            self.forget_range(got, new)
            self.maps.append([got, new, prot])

    def act_touch(self):
        """Reads or writes a byte of a mapping: a buffer stays mapped and
        valid after FREE, close and the end of its transfers."""
        if not self.maps:
            return
        addr, length, prot = self.rng.choice(self.maps)
        at = addr + self.rng.randrange(length)
        if prot & umem.PROT_WRITE:
            ctypes.memset(at, self.rng.getrandbits(8), 1)
        elif prot & umem.PROT_READ:
            ctypes.string_at(at, 1)

    # -- read() and poll() -----------------------------------------------

    def read(self, fd, addr, length, where="arena", bad=False):
        nonblock = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK
        with self.timer(0.2) if not nonblock else contextlib.nullcontext():
            n, err = umem.read(fd, addr, length)
        self.account("read", err, {"fd": fd, "length": length,
                                   "where": where, "nonblock": nonblock},
                     bad=bad, signalled=not nonblock)
        if n > 0 and not bad:
            self.check_records(addr, n, length)

    def check_records(self, addr, n, length):
        size = ctypes.sizeof(U.dmak_completion)
        if n % size or n > length:
            self.problem("read() returns a part of a record", "read", 0,
                         {"returned": n, "length": length})
            return
        for i in range(n // size):
            rec = U.dmak_completion.from_buffer_copy(
                ctypes.string_at(addr + i * size, size))
            if rec.cookie & TAG_MASK == EFAULT_TAG:
                self.problem("SUBMIT answered EFAULT yet queued the transfer",
                             "SUBMIT", errno.EFAULT, umem.fields(rec),
                             note="a completion record came for it")
            if rec.channel > U.S2MM or rec.status > U.ST_REMOVED or \
                    rec.flags & ~0x1F:
                self.problem("read() returns a bad record", "read", 0,
                             umem.fields(rec))

    def act_read(self):
        fd, _ = self.rng.choice(self.fd_choices())
        if self.chance(0.3):
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags ^ os.O_NONBLOCK)
        length = self.rng.choice((0, 1, 31, 32, 33, 64, 320, 2048, 4096,
                                  1 << 20))
        self.read(fd, self.arena.rw, length)

    def act_poll(self):
        choices = self.fd_choices()
        chosen = self.rng.sample(choices, self.rng.randrange(
            1, min(4, len(choices)) + 1))
        poller = select.poll()
        for fd, _ in chosen:
            poller.register(fd, select.POLLIN | select.POLLOUT |
                            select.POLLPRI)
        events = poller.poll(self.rng.choice((0, 0, 1, 10)))
        self.account("poll", 0, {})
        for fd, ev in events:
            if ev & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                self.problem("poll() reports an error on a live device",
                             "poll", 0, {"fd": fd, "revents": ev})

    # -- processes, threads, limits, the simulator -----------------------

    def act_race(self):
        """A second thread makes calls on the same files while this one
        makes its next ones: FREE, CANCEL, WAIT, STOP/START, RESET, SYNC,
        EXPORT, mmap/munmap, CYCLIC STOP and SUBMIT race them."""
        rng = random.Random(self.rng.getrandbits(64))
        steps = 20
        thread = threading.Thread(target=self.race, args=(rng, steps))
        self.racing = True
        thread.start()
        for _ in range(steps):
            self.step(racing=True)
        thread.join()       # a hang here stalls the process: the runner
        self.racing = False  # reports it with every thread's stack

    def race(self, rng, steps):
        """The second thread of ``act_race``; it changes none of this
        object's state but the counts, and takes no SIGALRM (its calls
        are all bounded)."""
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        for _ in range(steps):
            f = rng.choice(self.files)
            bufs = list(f.bufs)
            handle = rng.choice(bufs) if bufs else 1
            channel = rng.choice((U.MM2S, U.S2MM))
            seqs = f.seqs[channel][-4:]
            seq = rng.choice(seqs) if seqs else 1
            op = rng.choice(("free", "cancel", "wait", "stop", "start",
                             "reset", "sync", "export", "map", "cyclic",
                             "submit"))
            if op == "map":
                addr, err = umem.mmap_(0, PAGE, umem.PROT_READ |
                                       umem.PROT_WRITE, umem.MAP_SHARED,
                                       f.fd, handle * PAGE)
                self.account("mmap", err, {"race": True, "handle": handle})
                if addr:
                    ctypes.memset(addr, 0x5A, 1)
                    umem.munmap(addr, PAGE)
                continue
            if op == "free":
                call, number, arg = "FREE", U.IOC_FREE, U.dmak_free(
                    handle=handle)
            elif op == "sync":
                call, number, arg = "SYNC", U.IOC_SYNC, U.dmak_sync(
                    handle=handle, direction=3, size=1)
            elif op == "export":
                call, number, arg = "EXPORT", U.IOC_EXPORT, U.dmak_export(
                    handle=handle)
            elif op == "wait":
                call, number, arg = "WAIT", U.IOC_WAIT, U.dmak_wait(
                    channel=channel, seq=seq, timeout_ms=rng.randrange(50))
            elif op == "cyclic":
                call, number, arg = "CYCLIC.STOP", U.IOC_CYCLIC, \
                    U.dmak_cyclic(channel=U.S2MM, op=U.CYCLIC_STOP)
            elif op == "submit":
                self.keep_race = (U.dmak_xfer * 2)(
                    U.dmak_xfer(channel=U.S2MM, handle=handle, length=64),
                    U.dmak_xfer(channel=U.MM2S, handle=handle, length=64))
                call, number, arg = "SUBMIT", U.IOC_SUBMIT, U.dmak_submit(
                    xfers=ctypes.addressof(self.keep_race), count=2)
            else:
                ops = {"cancel": U.OP_CANCEL, "stop": U.OP_STOP,
                       "start": U.OP_START, "reset": U.OP_RESET}
                call, number = "CHAN_OP." + op.upper(), U.IOC_CHAN_OP
                arg = U.dmak_chan_op(channel=channel, op=ops[op], seq=seq)
            err = self.ioctl(call, f, number, ctypes.addressof(arg),
                             dict(umem.fields(arg), race=True))
            if op == "export" and not err:
                os.close(arg.fd)

    def act_fork(self):
        """A child that shares the files and mappings makes a few calls
        and exits; it must not hang."""
        pid = os.fork()
        if pid == 0:
            try:
                self.rng = random.Random(self.rng.getrandbits(64))
                self.target = self.calls + 20
                while self.calls < self.target:
                    self.step(in_child=True)
            except BaseException:
                self.emit("crash", trace=traceback.format_exc())
                os._exit(1)
            os._exit(0)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                if not os.WIFEXITED(status) or os.WEXITSTATUS(status):
                    self.problem("a forked child died", "fork", 0,
                                 {"status": status})
                return
            time.sleep(0.01)
        stack = read_text(f"/proc/{pid}/stack")
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        self.problem("hang: a forked child did not finish in 60 s", "fork",
                     0, {"stack": stack})

    def act_fdlimit(self):
        """CHANNEL_FD and EXPORT with no descriptor left."""
        f = self.pick_file()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        lowest = lowest_free_fd()
        buf = self.own_buffer(f, 4096)
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowest, hard))
        try:
            if self.chance(0.5) or not buf:
                arg = U.dmak_channel_fd(channel=U.S2MM)
                self.ioctl("CHANNEL_FD", f, U.IOC_CHANNEL_FD,
                           ctypes.addressof(arg), {"rlimit": lowest})
            else:
                arg = U.dmak_export(handle=buf[0])
                self.ioctl("EXPORT", f, U.IOC_EXPORT, ctypes.addressof(arg),
                           {"rlimit": lowest})
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    def act_fault(self):
        """Arms a one-shot fault of the simulator (root only)."""
        index = self.rng.choice(DEVICES)
        text = "clear" if self.chance(0.2) else "{} {}".format(
            self.rng.choice(("mm2s", "s2mm")), self.rng.choice(FAULTS))
        try:
            with open(SIM_FAULT.format(index), "w") as out:
                out.write(text)
        except OSError as exc:
            self.problem("the simulator's fault file refused a write",
                         "fault", exc.errno, {"text": text})

    # -- the loop --------------------------------------------------------

    ACTIONS = {
        "info": 2, "alloc": 6, "free": 3, "sync": 3, "submit": 12,
        "loopback": 8, "storm": 0.4, "wait": 8, "chan_op": 7,
        "channel_fd": 1.5, "regs": 1.5, "cyclic": 4, "export": 2,
        "import": 2, "unknown": 2, "badptr": 5, "badxfers": 2,
        "badread": 1, "foreign": 2, "mmap": 5, "munmap": 2, "remap": 1,
        "touch": 3, "read": 4, "poll": 3, "reopen": 0.6, "fork": 0.15,
        "fdlimit": 0.3, "fault": 0.3, "race": 0.5,
    }
    #: what a forked child, or the main thread while another races it,
    #: does not do
    NOT_IN_CHILD = {"fork", "fault", "race"}
    NOT_RACING = {"fork", "race", "reopen", "fdlimit"}

    def step(self, in_child=False, racing=False):
        names = list(self.ACTIONS)
        weights = [self.ACTIONS[n] for n in names]
        name = self.rng.choices(names, weights)[0]
        if in_child and name in self.NOT_IN_CHILD or \
                racing and name in self.NOT_RACING:
            return
        if name == "fault" and not self.privileged:
            return
        getattr(self, "act_" + name)()

    def run(self):
        """Makes the calls, then lets go of everything (or leaves it to
        exit), and reports the counts."""
        while self.calls < self.target:
            self.step()
        for f in self.files:             # a STOP must not outlive us
            for channel in (U.MM2S, U.S2MM):
                arg = U.dmak_chan_op(channel=channel, op=U.OP_START)
                self.ioctl("CHAN_OP.START", f, U.IOC_CHAN_OP,
                           ctypes.addressof(arg), {"device": f.index})
        if self.chance(0.5):
            while self.maps:
                self.unmap(0)
            for fd in [f.fd for f in self.files] + self.dmabufs + \
                    self.chfds:
                os.close(fd)
        elapsed = time.monotonic() - self.started
        self.emit("done", calls=self.calls, elapsed=elapsed,
                  stats=dict(self.stats),
                  problems=[list(k) + [n] for k, n in self.problems.items()])


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as exc:
        return str(exc)


def lowest_free_fd():
    fd = os.dup(0)
    os.close(fd)
    return fd


def drop_privileges(wid):
    """Runs on as a user of its own (uid 60000 + WID), without
    CAP_SYS_RAWIO: RESET and CANCEL then answer EPERM and EBUSY where
    others have work, and the buffer quota counts its buffers alone."""
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(60000 + wid, 60000 + wid, 60000 + wid)


def main(argv=None):
    """python worker.py WID SEED CALLS [--unprivileged] [--shares-user]:
    what the runner (dmakfuzz.py) starts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("wid", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument("calls", type=int)
    parser.add_argument("--unprivileged", action="store_true")
    parser.add_argument("--shares-user", action="store_true",
                        help="other processes of the run are root too")
    args = parser.parse_args(argv)
    if args.unprivileged:
        drop_privileges(args.wid)
    Worker(args.wid, args.seed, args.calls, not args.unprivileged,
           alone=args.unprivileged or not args.shares_user).run()


if __name__ == "__main__":
    main()
