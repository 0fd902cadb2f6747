"""/dev/dmakN: INFO, sysfs, many openers, and every bad request's errno."""

import ctypes
import errno
import mmap
import multiprocessing
import os
import pathlib

import numpy as np
import pytest

import pydmak
from pydmak import _uapi
from pydmak._libc import ioctl
from conftest import as_nobody, sysfs_attr

QUOTA = pathlib.Path("/sys/module/dmak/parameters/buf_quota")


def test_info_describes_the_simulated_ip(dev):
    info = dev.info
    assert info.abi_version == _uapi.ABI_VERSION
    assert (info.mm2s, info.s2mm, info.sg, info.dre) == (True, True,
                                                         False, False)
    assert (info.length_width, info.addr_width, info.data_width) == (26, 32,
                                                                     32)
    assert info.max_transfer == (1 << 26) - 1
    assert info.alignment == 4
    assert info.buf_quota == int(QUOTA.read_text())
    assert info.buf_used == 0


def test_sysfs_agrees_with_info(dev):
    info = dev.info
    assert int(sysfs_attr("abi_version")) == info.abi_version
    assert int(sysfs_attr("length_width")) == info.length_width
    assert int(sysfs_attr("addr_width")) == info.addr_width
    assert int(sysfs_attr("data_width")) == info.data_width
    assert int(sysfs_attr("max_transfer")) == info.max_transfer
    assert int(sysfs_attr("ring_size")) == info.ring_size
    assert sysfs_attr("features").split() == ["mm2s", "s2mm"]
    assert sysfs_attr("dev") == f"{os.major(os.stat('/dev/dmak0').st_rdev)}:0"


def test_buf_used_counts_pages(dev):
    a = pydmak.allocate(1, device=dev)
    b = pydmak.allocate(4097, dtype="u1", cacheable=True, device=dev)
    assert dev.info.buf_used == 3 * 4096
    a.freebuffer()
    b.freebuffer()
    assert dev.info.buf_used == 0


# -- every bad request gets its errno, and the device keeps working --------

def _errno_of(fn):
    with pytest.raises(OSError) as exc:
        fn()
    return exc.value.errno


def _raw_alloc(fd, size, flags=0):
    arg = _uapi.dmak_alloc(size=size, flags=flags)
    ioctl(fd, _uapi.IOC_ALLOC, arg)
    return arg


def _raw_sync(fd, handle, offset, size, direction=_uapi.SYNC_TO_DEVICE,
              **kw):
    ioctl(fd, _uapi.IOC_SYNC, _uapi.dmak_sync(
        handle=handle, direction=direction, offset=offset, size=size, **kw))


def _raw_free(fd, handle, reserved=0):
    ioctl(fd, _uapi.IOC_FREE, _uapi.dmak_free(handle=handle,
                                              reserved=reserved))


class _Big(ctypes.Structure):
    _fields_ = [("x", ctypes.c_uint64 * 3)]


def test_unknown_and_malformed_ioctls(dev):
    fd = dev.fileno()
    unknown = _uapi._ioc(_uapi._IOC_READ, _uapi.IOC_MAGIC, 0x7f, _Big)
    assert _errno_of(lambda: ioctl(fd, unknown, _Big())) == errno.ENOTTY
    wrong_size = _uapi._iowr(_uapi.IOC_MAGIC, 0x01, _Big)  # ALLOC nr
    assert _errno_of(lambda: ioctl(fd, wrong_size, _Big())) == errno.ENOTTY
    other_magic = _uapi._ior(0x42, 0x00, _uapi.dmak_info)
    assert _errno_of(lambda: ioctl(fd, other_magic,
                                   _uapi.dmak_info())) == errno.ENOTTY


def test_bad_pointer_is_efault(dev):
    libc = ctypes.CDLL(None, use_errno=True)
    for req in (_uapi.IOC_INFO, _uapi.IOC_ALLOC, _uapi.IOC_FREE,
                _uapi.IOC_SYNC):
        assert libc.ioctl(dev.fileno(), ctypes.c_ulong(req),
                          ctypes.c_void_p(16)) == -1
        assert ctypes.get_errno() == errno.EFAULT


def test_bad_alloc(dev):
    fd = dev.fileno()
    assert _errno_of(lambda: _raw_alloc(fd, 0)) == errno.EINVAL
    assert _errno_of(lambda: _raw_alloc(fd, 4096, flags=0x80)) == errno.EINVAL
    assert _errno_of(lambda: _raw_alloc(fd, 1 << 62)) == errno.EDQUOT
    assert _errno_of(lambda: _raw_alloc(fd, 2**64 - 1)) == errno.EDQUOT
    assert dev.info.buf_used == 0


def test_huge_alloc_without_quota_is_enomem(dev):
    old = QUOTA.read_text()
    QUOTA.write_text("0")
    try:
        assert _errno_of(lambda: _raw_alloc(dev.fileno(), 1 << 40)) == \
            errno.ENOMEM
        assert _errno_of(lambda: _raw_alloc(dev.fileno(), 2**64 - 1)) == \
            errno.ENOMEM
    finally:
        QUOTA.write_text(old)
    assert dev.info.buf_used == 0


def _alloc_as_nobody(nbytes):
    """errno of ALLOC of ``nbytes`` by another user (0 if it worked)."""
    return as_nobody(lambda: _raw_alloc(os.open("/dev/dmak0", os.O_RDWR),
                                        nbytes))


def test_quota_is_per_user(dev):
    """Every open file of one user draws on one quota, so opening the
    device again gives no more; another user has a quota of their own."""
    old = QUOTA.read_text()
    node = pathlib.Path("/dev/dmak0")
    mode = node.stat().st_mode & 0o777
    QUOTA.write_text(str(1 << 20))
    try:
        a = pydmak.allocate(512 << 10, dtype="u1", device=dev)
        with pytest.raises(pydmak.DmakError, match="quota") as exc:
            pydmak.allocate(768 << 10, dtype="u1", device=dev)
        assert exc.value.errno == errno.EDQUOT
        with pydmak.Device(0) as other:     # the same user: the same quota
            assert other.info.buf_used == 512 << 10
            with pytest.raises(pydmak.DmakError) as exc:
                pydmak.allocate(768 << 10, dtype="u1", device=other)
            assert exc.value.errno == errno.EDQUOT
            pydmak.allocate(512 << 10, dtype="u1", device=other).freebuffer()
        node.chmod(0o666)
        assert _alloc_as_nobody(768 << 10) == 0         # a quota of its own
        assert _alloc_as_nobody(2 << 20) == errno.EDQUOT
        a.freebuffer()
        del a
        pydmak.allocate(768 << 10, dtype="u1", device=dev).freebuffer()
    finally:
        node.chmod(mode)
        QUOTA.write_text(old)


def test_bad_free(dev):
    fd = dev.fileno()
    assert _errno_of(lambda: _raw_free(fd, 12345)) == errno.ENOENT
    assert _errno_of(lambda: _raw_free(fd, 0)) == errno.ENOENT
    arg = _raw_alloc(fd, 100)
    assert _errno_of(lambda: _raw_free(fd, arg.handle, 1)) == errno.EINVAL
    _raw_free(fd, arg.handle)
    assert _errno_of(lambda: _raw_free(fd, arg.handle)) == errno.ENOENT


def test_bad_sync(dev):
    fd = dev.fileno()
    for cached in (0, _uapi.BUF_CACHED):
        h = _raw_alloc(fd, 10000, cached).handle
        for offset, size in [(0, 0), (10000, 1), (9999, 2), (0, 10001),
                             (1, 2**64 - 1), (2**64 - 1, 2)]:
            assert _errno_of(lambda: _raw_sync(fd, h, offset, size)) == \
                errno.EINVAL, (cached, offset, size)
        for direction in (0, 4, 0xffffffff):
            assert _errno_of(lambda: _raw_sync(fd, h, 0, 1, direction)) == \
                errno.EINVAL
        assert _errno_of(lambda: _raw_sync(fd, h, 0, 1, flags=1)) == \
            errno.EINVAL
        three = ctypes.c_uint32 * 3
        for bad in ((1, 0, 0), (0, 1, 0), (0, 0, 1)):
            assert _errno_of(lambda: _raw_sync(
                fd, h, 0, 1, reserved=three(*bad))) == errno.EINVAL
        _raw_sync(fd, h, 0, 10000, _uapi.SYNC_BIDIRECTIONAL)
        _raw_sync(fd, h, 9999, 1, _uapi.SYNC_FROM_DEVICE)
        _raw_free(fd, h)
        assert _errno_of(lambda: _raw_sync(fd, h, 0, 1)) == errno.ENOENT


def _map(fd, length, offset):
    return mmap.mmap(fd, length, mmap.MAP_SHARED,
                     mmap.PROT_READ | mmap.PROT_WRITE, offset=offset)


def test_bad_mmap(dev):
    fd = dev.fileno()
    arg = _raw_alloc(fd, 5000)
    off = arg.mmap_offset
    assert off == arg.handle * 4096
    assert _errno_of(lambda: _map(fd, 3 * 4096, off)) == errno.EINVAL
    assert _errno_of(lambda: _map(fd, 4096, off + 4096 * 999)) == \
        errno.EINVAL
    assert _errno_of(lambda: _map(fd, 4096, 0)) == errno.EINVAL
    _map(fd, 2 * 4096, off).close()     # the whole last page is fine
    # A private mapping would be copied on write, out of the device's view.
    assert _errno_of(lambda: mmap.mmap(fd, 4096, mmap.MAP_PRIVATE,
                                       offset=off)) == errno.EINVAL
    _raw_free(fd, arg.handle)
    assert _errno_of(lambda: _map(fd, 4096, off)) == errno.EINVAL


def test_other_files_buffers_are_off_limits(dev):
    """Another file's buffer is not this file's to see: as if there were
    none (ENOENT; mmap, EINVAL as for any offset naming no buffer)."""
    with pydmak.Device(0) as other:
        theirs = other.alloc(4096)
        fd = dev.fileno()
        assert _errno_of(lambda: _map(fd, 4096, theirs.mmap_offset)) == \
            errno.EINVAL
        assert _errno_of(lambda: _raw_free(fd, theirs.handle)) == errno.ENOENT
        assert _errno_of(lambda: _raw_sync(fd, theirs.handle, 0, 1)) == \
            errno.ENOENT
        other.free(theirs.handle)


def test_python_errors_say_what_was_wrong(dev):
    with pytest.raises(pydmak.DmakError, match="handle 999") as exc:
        dev.free(999)
    assert exc.value.errno == errno.ENOENT
    raw = dev.alloc(10)
    with pytest.raises(pydmak.DmakError, match="not inside") as exc:
        dev.sync(raw.handle, 5, 10, pydmak.SYNC_TO_DEVICE)
    dev.free(raw.handle)
    with pytest.raises(pydmak.DmakError, match="no buffer of this file"):
        dev.mmap(raw)
    with pytest.raises(ValueError, match="at least 1 byte"):
        dev.alloc(0)
    with pytest.raises(TypeError, match="int"):
        dev.alloc(1.5)


def test_device_works_after_every_bad_request(dev):
    test_unknown_and_malformed_ioctls(dev)
    test_bad_alloc(dev)
    test_bad_free(dev)
    test_bad_sync(dev)
    test_bad_mmap(dev)
    buf = pydmak.allocate(1000, device=dev)
    buf[:] = np.arange(1000)
    assert (buf == np.arange(1000)).all()
    buf.freebuffer()


# -- many openers ----------------------------------------------------------

def _worker(seed, rounds, queue):
    try:
        rng = np.random.default_rng(seed)
        with pydmak.Device(0) as dev:
            for _ in range(rounds):
                size = int(rng.integers(1, 300_000))
                buf = pydmak.allocate(size, dtype="u1", device=dev,
                                      cacheable=bool(seed % 2))
                data = rng.integers(0, 256, size, dtype=np.uint8)
                buf[:] = data
                buf.flush()
                assert np.array_equal(buf, data)
                buf.freebuffer()
        queue.put((seed, "ok"))
    except Exception as exc:   # report to the parent, which asserts
        queue.put((seed, repr(exc)))


def test_processes_share_one_device(dev):
    held = pydmak.allocate(4096, dtype="u1", device=dev)
    held[:] = 0xA5
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(seed, 40, queue))
             for seed in range(4)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert results == {seed: "ok" for seed in range(4)}
    assert (held == 0xA5).all()
    held.freebuffer()
