"""32-bit user space on the 64-bit kernel: every ioctl of /dev/dmakN from
a 32-bit process (i386 on x86-64, armhf on arm64), through the driver's
``compat_ptr_ioctl``.

tests/vm/compat32/client.c does what pydmak does (buffers of both kinds,
loopbacks ended by WAIT and by records, SYNC, every channel operation, a
cyclic capture, dma-buf EXPORT and IMPORT) and checks every byte; it runs
on a direct-mode and an SG instance (``instances=2 sg=0,1``). Its INFO,
REGS and the errno of each of its bad calls must be what this 64-bit
process gets from the same calls.

On x86-64 the guest builds the client (``make -C tests/vm/compat32 i386``:
the guest shares the host's root file system). An arm64 guest has no
compiler: its runner builds ``client-armhf`` on the host before boot.
"""

import ctypes
import errno
import mmap
import os
import platform
import struct
import subprocess

import pytest

from pydmak import _uapi
from pydmak._libc import ioctl
from conftest import REPO

DIRECT, SG = 0, 1
HERE = REPO / "tests" / "vm" / "compat32"
ELFCLASS32, EM_386, EM_ARM = 1, 3, 40
NO_HANDLE = 0x7FFFFFF0          # as the client's: a handle never given out
ALL_IOCTLS = (1 << 12) - 1      # numbers 0x00 to 0x0B

pytestmark = pytest.mark.usefixtures("sg_buffers_returned")


@pytest.fixture(scope="module")
def client():
    """The 32-bit client for this guest's architecture."""
    machine = platform.machine()
    if machine == "x86_64":
        res = subprocess.run(["make", "-C", str(HERE), "i386"],
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr
        exe, want = HERE / "client-i386", EM_386
    elif machine == "aarch64":
        exe, want = HERE / "client-armhf", EM_ARM
        if not exe.is_file():
            pytest.fail(f"{exe} is missing: an arm64 guest cannot build it; "
                        "run 'make -C tests/vm/compat32 armhf' on the host "
                        "before booting the guest")
    else:
        pytest.fail(f"no 32-bit client for a {machine} guest")
    head = exe.read_bytes()[:20]
    assert head[:4] == b"\x7fELF", f"{exe} is not an ELF file"
    assert head[4] == ELFCLASS32, f"{exe} is not a 32-bit program"
    assert struct.unpack_from("<H", head, 18)[0] == want, \
        f"{exe} is built for another machine"
    return exe


@pytest.fixture(scope="module")
def run(client):
    """run(index): the client's output lines on /dev/dmak<index>, after
    it exited 0 (one run per instance)."""
    done = {}

    def run(index):
        if index not in done:
            res = subprocess.run([str(client), f"/dev/dmak{index}"],
                                 capture_output=True, text=True, timeout=300)
            assert res.returncode == 0, \
                f"exit status {res.returncode}\n{res.stdout}{res.stderr}"
            assert res.stderr == ""
            done[index] = res.stdout.splitlines()
        return done[index]
    return run


def _lines(out, kind):
    return [line.split(" ", 1)[1] for line in out
            if line.startswith(kind + " ")]


def _fields(text):
    return {k: int(v, 0) for k, v in
            (item.split("=") for item in text.split())}


@pytest.mark.parametrize("index", [DIRECT, SG], ids=["direct", "sg"])
def test_every_ioctl_from_32_bit(run, index):
    out = run(index)
    assert out[0] == "client 32-bit" and out[-1] == "PASS", out
    sg = index == SG
    assert _lines(out, "ok") == [
        "loopback coherent 65536",
        "loopback cached 65536",
        "chan_op status stop start cancel coalesce reset",
        "cyclic start release status stop" if sg
        else "cyclic refused in direct mode",
        "dmabuf export mmap import 16384",
        "bad arguments"]
    used = _fields(_lines(out, "ioctls")[0])
    assert used["tried"] == ALL_IOCTLS | 1 << 0x0C     # + an unknown one
    # Direct mode has no cyclic capture: CYCLIC only ever refuses.
    assert used["ok"] == (ALL_IOCTLS if sg else ALL_IOCTLS & ~(1 << 0x08))

    # INFO and REGS read the same from 64-bit.
    with _device(index) as fd:
        info = _uapi.dmak_info()
        ioctl(fd, _uapi.IOC_INFO, info)
        regs = _uapi.dmak_regs()
        ioctl(fd, _uapi.IOC_REGS, regs)
    seen = _fields(_lines(out, "info")[0])
    assert seen == {k: getattr(info, k) for k in seen}
    assert len(seen) == 10 and bool(seen["flags"] & _uapi.INFO_SG) == sg
    assert _fields(_lines(out, "regs")[0]) == {"present": regs.present}


@pytest.mark.parametrize("index", [DIRECT, SG], ids=["direct", "sg"])
def test_bad_arguments_give_the_errno_of_64_bit(run, index):
    out = run(index)
    from_32 = [(name, int(number)) for name, number, _ in
               (line.split() for line in _lines(out, "errno"))]
    from_64 = bad_calls_from_64_bit(index)
    assert [name for name, _ in from_32] == [name for name, _ in from_64]
    assert from_32 == from_64
    assert all(err for _, err in from_64)      # none succeeded


class _device:
    """A raw open file of /dev/dmakN (no pydmak wrapper)."""

    def __init__(self, index):
        self.path = f"/dev/dmak{index}"

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        return self.fd

    def __exit__(self, *exc):
        os.close(self.fd)


def _errno(fn):
    try:
        fn()
    except OSError as exc:
        return exc.errno
    return 0


def bad_calls_from_64_bit(index):
    """[(name, errno)] of the client's bad calls, made by this process."""
    u = _uapi
    page = mmap.PAGESIZE
    result = []
    with _device(index) as fd:
        info = u.dmak_info()
        ioctl(fd, u.IOC_INFO, info)
        buf = u.dmak_alloc(size=page)
        ioctl(fd, u.IOC_ALLOC, buf)
        h = buf.handle

        arrays = []

        def call(name, request, arg):
            result.append((name, _errno(lambda: ioctl(fd, request, arg))))

        def xfers(**fields):
            array = (u.dmak_xfer * 1)(u.dmak_xfer(
                channel=u.MM2S, length=fields.pop("length", 64), **fields))
            arrays.append(array)
            return ctypes.addressof(array)

        call("alloc-size-0", u.IOC_ALLOC, u.dmak_alloc(size=0))
        call("alloc-unknown-flags", u.IOC_ALLOC,
             u.dmak_alloc(size=4096, flags=0x80))
        call("free-unknown-handle", u.IOC_FREE, u.dmak_free(handle=NO_HANDLE))
        call("free-reserved", u.IOC_FREE, u.dmak_free(handle=h, reserved=1))
        call("sync-unknown-handle", u.IOC_SYNC,
             u.dmak_sync(handle=NO_HANDLE, direction=1, size=1))
        call("sync-unknown-direction", u.IOC_SYNC,
             u.dmak_sync(handle=h, direction=9, size=1))
        call("sync-past-the-end", u.IOC_SYNC,
             u.dmak_sync(handle=h, direction=1, size=(1 << 32) + 1))
        call("submit-count-0", u.IOC_SUBMIT,
             u.dmak_submit(xfers=xfers(handle=h), count=0))
        call("submit-high-address", u.IOC_SUBMIT, u.dmak_submit(
            xfers=0xFFFFFFFF00000000 | xfers(handle=h) & 0xFFFFFFFF,
            count=1))
        call("submit-unknown-handle", u.IOC_SUBMIT,
             u.dmak_submit(xfers=xfers(handle=NO_HANDLE), count=1))
        call("submit-too-long", u.IOC_SUBMIT, u.dmak_submit(
            xfers=xfers(handle=h, length=info.max_transfer + 1), count=1))
        call("wait-unknown-channel", u.IOC_WAIT, u.dmak_wait(channel=2, seq=1))
        call("wait-seq-never-given", u.IOC_WAIT,
             u.dmak_wait(channel=u.S2MM, seq=1 << 40))
        call("wait-flags", u.IOC_WAIT,
             u.dmak_wait(channel=u.S2MM, seq=1, flags=u.WAIT_PEEK << 1))
        call("chan-op-flags", u.IOC_CHAN_OP,
             u.dmak_chan_op(channel=u.MM2S, flags=1))
        call("chan-op-unknown-op", u.IOC_CHAN_OP,
             u.dmak_chan_op(channel=u.MM2S, op=99))
        call("chan-op-reserved", u.IOC_CHAN_OP,
             u.dmak_chan_op(channel=u.MM2S, reserved=(0, 1, 0)))
        call("cancel-seq-0", u.IOC_CHAN_OP,
             u.dmak_chan_op(channel=u.S2MM, op=u.OP_CANCEL))
        call("cancel-unknown-seq", u.IOC_CHAN_OP,
             u.dmak_chan_op(channel=u.S2MM, op=u.OP_CANCEL, seq=1 << 40))
        call("coalesce-threshold-0", u.IOC_CHAN_OP,
             u.dmak_chan_op(channel=u.S2MM, op=u.OP_COALESCE))
        call("channel-fd-unknown-channel", u.IOC_CHANNEL_FD,
             u.dmak_channel_fd(channel=5))
        call("channel-fd-not-zero", u.IOC_CHANNEL_FD,
             u.dmak_channel_fd(channel=u.S2MM, fd=-1))
        call("channel-fd-flags", u.IOC_CHANNEL_FD,
             u.dmak_channel_fd(channel=u.S2MM, flags=1))
        call("cyclic-status-no-capture", u.IOC_CYCLIC,
             u.dmak_cyclic(channel=u.S2MM, op=u.CYCLIC_STATUS))
        call("cyclic-mm2s", u.IOC_CYCLIC,
             u.dmak_cyclic(channel=u.MM2S, op=u.CYCLIC_STATUS))
        call("export-unknown-handle", u.IOC_EXPORT,
             u.dmak_export(handle=NO_HANDLE))
        call("export-flags", u.IOC_EXPORT, u.dmak_export(handle=h, flags=1))
        call("import-not-an-fd", u.IOC_IMPORT, u.dmak_import(fd=-1))
        call("import-not-a-dmabuf", u.IOC_IMPORT, u.dmak_import(fd=fd))
        call("unknown-number", u._iowr(u.IOC_MAGIC, 0x0C, u.dmak_free),
             u.dmak_free())
        call("info-wrong-size", u._ior(u.IOC_MAGIC, 0x00, ctypes.c_uint64),
             ctypes.c_uint64())
        call("regs-wrong-size", u._ior(u.IOC_MAGIC, 0x09, u.dmak_free),
             u.dmak_free())
        record = ctypes.sizeof(u.dmak_completion)
        result.append(("read-short",
                       _errno(lambda: os.read(fd, record - 1))))
        chan = u.dmak_channel_fd(channel=u.MM2S)
        ioctl(fd, u.IOC_CHANNEL_FD, chan)
        os.set_blocking(chan.fd, False)
        result.append(("read-nothing-pending",
                       _errno(lambda: os.read(chan.fd, record))))
        os.close(chan.fd)
        result.append(("mmap-unknown-offset", _errno(lambda: mmap.mmap(
            fd, page, mmap.MAP_SHARED, mmap.PROT_READ,
            offset=NO_HANDLE * page))))
        result.append(("mmap-past-the-end", _errno(lambda: mmap.mmap(
            fd, 2 * page, mmap.MAP_SHARED, mmap.PROT_READ,
            offset=buf.mmap_offset))))
        ioctl(fd, u.IOC_FREE, u.dmak_free(handle=h))
    assert errno.EINVAL in {e for _, e in result}
    return result
