"""What must hold once the fuzzing processes are gone: every buffer given
back, no transfer left queued, a loopback through both instances with
every byte compared, and no kernel splat."""

import ctypes
import mmap
import os
import pathlib
import re
import subprocess
import time

import numpy as np

from pydmak import _uapi as U

import umem

SYSFS = pathlib.Path("/sys/class/dmak")
SIM_DEBUGFS = pathlib.Path("/sys/kernel/debug/dmak-sim")
#: what tests/vm/guest takes for a kernel splat
SPLAT = re.compile(r"BUG:|WARNING:|Oops|general protection|"
                   r"list_del corruption|KASAN|UBSAN|refcount_t:|"
                   r"kernel BUG|nobody cared")


def buffers(index):
    """(count, bytes) of buffer memory the driver holds for dmakN."""
    count, nbytes = (SYSFS / f"dmak{index}" / "buffers").read_text().split()
    return int(count), int(nbytes)


def wait_buffers_returned(indices, timeout=30.0):
    """Problems: the devices of ``indices`` whose buffers are not back to
    ``0 0`` within ``timeout`` s (ended transfers drop theirs from a work
    item)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(buffers(i) == (0, 0) for i in indices):
            return []
        time.sleep(0.1)
    return [f"leak: /sys/class/dmak/dmak{i}/buffers reads "
            f"{' '.join(map(str, buffers(i)))}, not 0 0"
            for i in indices if buffers(i) != (0, 0)]


def _ioctl(fd, number, arg):
    _, err = umem.ioctl(fd, number, ctypes.addressof(arg))
    if err:
        raise OSError(err, f"{type(arg).__name__}: {os.strerror(err)}")
    return arg


def _op(fd, channel, op, **kw):
    return _ioctl(fd, U.IOC_CHAN_OP, U.dmak_chan_op(channel=channel, op=op,
                                                    **kw))


def recover(index):
    """Problems with dmakN once every fuzzing file is closed: transfers
    still queued. Then undoes what the fuzzers may have left for the next
    users: faults armed, channels stopped or halted, coalescing."""
    problems = []
    (SIM_DEBUGFS / str(index) / "fault").write_text("clear")
    fd = os.open(f"/dev/dmak{index}", os.O_RDWR)
    try:
        for channel in (U.MM2S, U.S2MM):
            queued = _op(fd, channel, U.OP_STATUS).queued
            if queued:
                problems.append(f"dmak{index} channel {channel}: {queued} "
                                "transfers still queued with no file open")
            _op(fd, channel, U.OP_START)
            if _ioctl(fd, U.IOC_INFO, U.dmak_info()).flags & U.INFO_SG:
                _op(fd, channel, U.OP_COALESCE, irq_threshold=1)
        _op(fd, U.MM2S, U.OP_RESET)
        for channel in (U.MM2S, U.S2MM):
            if _op(fd, channel, U.OP_STATUS).error:
                problems.append(f"dmak{index} channel {channel} still "
                                "halted after RESET")
    finally:
        os.close(fd)
    return problems


class _Buffer:
    """A buffer of an open file, allocated and mapped."""

    def __init__(self, fd, size, flags):
        self.fd = fd
        self.arg = _ioctl(fd, U.IOC_ALLOC, U.dmak_alloc(size=size,
                                                        flags=flags))
        length = -(-size // mmap.PAGESIZE) * mmap.PAGESIZE
        self.map = mmap.mmap(fd, length, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE,
                             offset=self.arg.mmap_offset)
        self.array = np.frombuffer(self.map, np.uint8, size)
        self.handle = self.arg.handle

    def sync(self, direction):
        _ioctl(self.fd, U.IOC_SYNC, U.dmak_sync(
            handle=self.handle, direction=direction, size=len(self.array)))

    def close(self):
        del self.array
        self.map.close()
        _ioctl(self.fd, U.IOC_FREE, U.dmak_free(handle=self.handle))


def _transfer(fd, xfers, timeout_ms=20000):
    """SUBMIT of ``xfers`` and WAIT for each: [(status, bytes)]."""
    array = (U.dmak_xfer * len(xfers))(*xfers)
    _ioctl(fd, U.IOC_SUBMIT, U.dmak_submit(xfers=ctypes.addressof(array),
                                           count=len(xfers)))
    ends = {}
    for x in array:
        if x.flags & U.XFER_MORE:
            continue
        w = _ioctl(fd, U.IOC_WAIT, U.dmak_wait(channel=x.channel, seq=x.seq,
                                               timeout_ms=timeout_ms))
        ends[x.channel] = (w.status, w.bytes)
    return ends


def loopback(index, sizes=(4, 4096, 65548, 1 << 20), seed=0):
    """Problems sending each size through MM2S into S2MM on dmakN, with
    COHERENT and CACHED buffers (on an SG instance also gathered from
    three pieces), every byte compared."""
    rng = np.random.default_rng(seed)
    fd = os.open(f"/dev/dmak{index}", os.O_RDWR)
    problems = []
    try:
        sg = _ioctl(fd, U.IOC_INFO, U.dmak_info()).flags & U.INFO_SG
        for flags in (U.BUF_COHERENT, U.BUF_CACHED):
            for size in sizes:
                src, dst = _Buffer(fd, size, flags), _Buffer(fd, size, flags)
                try:
                    src.array[:] = rng.integers(0, 256, size, np.uint8)
                    dst.array[:] = 0
                    src.sync(U.SYNC_TO_DEVICE)
                    pieces = [size]
                    if sg and size >= 12:
                        third = size // 3 // 4 * 4
                        pieces = [third, third, size - 2 * third]
                    xfers = [U.dmak_xfer(channel=U.S2MM, handle=dst.handle,
                                         length=size)]
                    offset = 0
                    for i, n in enumerate(pieces):
                        more = U.XFER_MORE if i < len(pieces) - 1 else 0
                        xfers.append(U.dmak_xfer(
                            channel=U.MM2S, handle=src.handle, offset=offset,
                            length=n, flags=more))
                        offset += n
                    ends = _transfer(fd, xfers)
                    dst.sync(U.SYNC_FROM_DEVICE)
                    want = {U.MM2S: (U.ST_OK, size), U.S2MM: (U.ST_OK, size)}
                    wrong = int(np.count_nonzero(src.array != dst.array))
                    if ends != want or wrong:
                        problems.append(
                            f"loopback dmak{index} {size} B flags {flags} in "
                            f"{len(pieces)} pieces: ended {ends}, "
                            f"{wrong} bytes differ")
                finally:
                    src.close()
                    dst.close()
    except OSError as exc:
        problems.append(f"loopback dmak{index}: {exc}")
    finally:
        os.close(fd)
    return problems


def reload(repo, sim_args=("instances=2", "sg=0,1")):
    """Problems unloading dmak and dmak_sim; loads them again (as
    tests/vm/guest did) so that the guest's own checks find them."""
    problems = []
    for mod in ("dmak", "dmak_sim"):
        res = subprocess.run(["rmmod", mod], capture_output=True, text=True)
        if res.returncode:
            problems.append(f"rmmod {mod} failed: {res.stderr.strip()}")
    if not problems:
        for ko, args in (("dmak_sim.ko", sim_args), ("dmak.ko", ())):
            subprocess.run(["insmod", str(repo / "kmod" / ko), *args],
                           check=True)
    return problems


def dmesg():
    return subprocess.run(["dmesg"], capture_output=True, text=True).stdout


def splats(text):
    """The lines of ``text`` (dmesg) that tests/vm/guest takes for a
    kernel splat."""
    return [line for line in text.splitlines() if SPLAT.search(line)]
