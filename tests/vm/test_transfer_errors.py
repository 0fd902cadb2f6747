"""Every bad SUBMIT, WAIT, channel op and channel-file request: its errno."""

import contextlib
import ctypes
import errno
import mmap

import pytest

import pydmak
from pydmak import _uapi
from pydmak._libc import ioctl


def _errno(fn):
    with pytest.raises(OSError) as exc:
        fn()
    return exc.value.errno


def _submit(dev, *xfers, count=None, flags=0, addr=None):
    array = (_uapi.dmak_xfer * max(len(xfers), 1))(*xfers)
    arg = _uapi.dmak_submit(
        xfers=ctypes.addressof(array) if addr is None else addr,
        count=len(xfers) if count is None else count, flags=flags)
    ioctl(dev.fileno(), _uapi.IOC_SUBMIT, arg)
    return [x.seq for x in array]


@contextlib.contextmanager
def _read_only(data):
    """The address of a read-only page holding ``data``."""
    libc = ctypes.CDLL(None, use_errno=True)
    page = mmap.mmap(-1, mmap.PAGESIZE)
    page[:len(data)] = data
    view = ctypes.c_char.from_buffer(page)
    addr = ctypes.addressof(view)
    assert libc.mprotect(ctypes.c_void_p(addr), mmap.PAGESIZE,
                         mmap.PROT_READ) == 0
    try:
        yield addr
    finally:
        libc.mprotect(ctypes.c_void_p(addr), mmap.PAGESIZE,
                      mmap.PROT_READ | mmap.PROT_WRITE)
        del view
        page.close()


def _x(handle, channel=_uapi.MM2S, offset=0, length=64, **kw):
    return _uapi.dmak_xfer(channel=channel, handle=handle, offset=offset,
                           length=length, **kw)


@pytest.fixture
def handle(dev):
    return dev.alloc(8192).handle


def test_bad_submit(dev, handle):
    assert _errno(lambda: _submit(dev, _x(handle, channel=2))) == errno.EINVAL
    assert _errno(lambda: _submit(dev, _x(handle, length=0))) == errno.EINVAL
    assert _errno(lambda: _submit(dev, _x(handle, flags=0x80))) == \
        errno.EINVAL
    assert _errno(lambda: _submit(dev, _x(handle, reserved=1))) == \
        errno.EINVAL
    assert _errno(lambda: _submit(dev, _x(handle, offset=2))) == errno.EINVAL
    assert _errno(lambda: _submit(dev, _x(handle, offset=8190, length=4))) \
        == errno.EINVAL
    assert _errno(lambda: _submit(dev, _x(handle, offset=2**63))) == \
        errno.EINVAL
    assert _errno(lambda: _submit(dev, _x(handle, length=1 << 26))) == \
        errno.EMSGSIZE
    assert _errno(lambda: _submit(dev, _x(999))) == errno.ENOENT
    assert _errno(lambda: _submit(dev, _x(handle), count=0)) == errno.EINVAL
    assert _errno(lambda: _submit(dev, _x(handle), count=257)) == \
        errno.EINVAL
    assert _errno(lambda: _submit(dev, _x(handle), flags=1)) == errno.EINVAL
    assert _errno(lambda: _submit(dev, _x(handle), addr=16)) == errno.EFAULT
    # An array it cannot write the seqs back into: EFAULT, nothing queued.
    with _read_only(bytes(_x(handle, length=64))) as addr:
        assert _errno(lambda: _submit(dev, _x(handle), addr=addr)) == \
            errno.EFAULT
    # All or nothing: one bad entry queues none of the batch.
    assert _errno(lambda: _submit(dev, _x(handle), _x(999))) == errno.ENOENT
    with pydmak.Device(0) as other:
        theirs = other.alloc(4096).handle
        assert _errno(lambda: _submit(dev, _x(theirs))) == errno.ENOENT
    op = _uapi.dmak_chan_op(channel=_uapi.MM2S, op=_uapi.OP_STATUS)
    ioctl(dev.fileno(), _uapi.IOC_CHAN_OP, op)
    assert op.queued == 0


def _wait(dev, seq, channel=_uapi.MM2S, timeout_ms=0, **kw):
    arg = _uapi.dmak_wait(channel=channel, seq=seq, timeout_ms=timeout_ms,
                          **kw)
    ioctl(dev.fileno(), _uapi.IOC_WAIT, arg)
    return arg


def test_bad_wait(dev, handle):
    assert _errno(lambda: _wait(dev, 0)) == errno.EINVAL
    assert _errno(lambda: _wait(dev, 1 << 40)) == errno.EINVAL
    assert _errno(lambda: _wait(dev, 1, channel=5)) == errno.EINVAL
    seq = _submit(dev, _x(handle, length=64),
                  _x(handle, channel=_uapi.S2MM, length=64))[0]
    for flag in (2, 1 << 31):           # only DMAK_WAIT_PEEK is known
        assert _errno(lambda: _wait(dev, seq, timeout_ms=10000,
                                    flags=flag | _uapi.WAIT_PEEK)) == \
            errno.EINVAL
    assert _errno(lambda: _wait(dev, seq, timeout_ms=10000,
                                reserved=(ctypes.c_uint32 * 3)(0, 0, 1))) \
        == errno.EINVAL
    arg = _wait(dev, seq, timeout_ms=10000)
    assert (arg.status, arg.bytes) == (_uapi.ST_OK, 64)
    with pydmak.Device(0) as other:        # not theirs to see
        assert _errno(lambda: _wait(other, seq)) == errno.ENOENT
    # Results are kept for the last DMAK_RESULTS transfers only.
    pairs = [_x(handle, length=4), _x(handle, channel=_uapi.S2MM, length=4)]
    for _ in range(_uapi.RESULTS // (_uapi.SUBMIT_MAX // 2) + 1):
        seqs = _submit(dev, *pairs * (_uapi.SUBMIT_MAX // 2))
        _wait(dev, seqs[-1], channel=_uapi.S2MM, timeout_ms=30000)
    assert _errno(lambda: _wait(dev, seq)) == errno.ENOENT


def _op(dev, channel, op, seq=0):
    arg = _uapi.dmak_chan_op(channel=channel, op=op, seq=seq)
    ioctl(dev.fileno(), _uapi.IOC_CHAN_OP, arg)
    return arg


def test_a_channel_holds_no_more_transfers_than_it_keeps_results_of(
        dev, handle):
    """Results live in DMAK_RESULTS slots by seq, so a channel holds
    transfers whose seqs span at most that from its oldest outstanding one:
    SUBMIT beyond is EAGAIN and queues nothing, cancelling later ones makes
    no room, and the oldest, still running, is never taken for ended (WAIT
    times out) and has its own result when it ends."""
    rx = _x(handle, channel=_uapi.S2MM, length=64)
    first = _submit(dev, rx)[0]               # runs: it waits for data
    seqs = [first]
    while len(seqs) < _uapi.RESULTS:
        n = min(_uapi.SUBMIT_MAX, _uapi.RESULTS - len(seqs))
        seqs += _submit(dev, *[rx] * n)
    assert seqs == list(range(first, first + _uapi.RESULTS))
    assert _errno(lambda: _submit(dev, rx)) == errno.EAGAIN
    assert _errno(lambda: _submit(dev, _x(handle), rx)) == errno.EAGAIN
    assert _op(dev, _uapi.S2MM, _uapi.OP_STATUS).queued == _uapi.RESULTS
    assert _op(dev, _uapi.MM2S, _uapi.OP_STATUS).queued == 0  # none of it
    for seq in seqs[-10:]:
        _op(dev, _uapi.S2MM, _uapi.OP_CANCEL, seq)
        assert _wait(dev, seq, channel=_uapi.S2MM).status == \
            _uapi.ST_CANCELLED
    assert _errno(lambda: _submit(dev, rx)) == errno.EAGAIN
    assert _errno(lambda: _wait(dev, first, channel=_uapi.S2MM)) == \
        errno.ETIMEDOUT
    # Data for the oldest: it ends with its own result, and makes room.
    sent = _submit(dev, _x(handle, length=64))[0]
    assert _wait(dev, sent, timeout_ms=10000).status == _uapi.ST_OK
    arg = _wait(dev, first, channel=_uapi.S2MM, timeout_ms=10000)
    assert (arg.status, arg.bytes) == (_uapi.ST_OK, 64)
    assert _submit(dev, rx) == [first + _uapi.RESULTS]
    assert _errno(lambda: _submit(dev, rx)) == errno.EAGAIN
    # pydmak says so, and queued nothing.
    dma = pydmak.DMA(dev)
    buf = pydmak.allocate(64, "u1", device=dev)
    with pytest.raises(pydmak.DmakError, match="wait\\(\\) for the oldest") \
            as exc:
        dma.recvchannel.transfer(buf)
    assert exc.value.errno == errno.EAGAIN
    _op(dev, _uapi.S2MM, _uapi.OP_RESET)       # ends every receive
    assert _wait(dev, seqs[1], channel=_uapi.S2MM).status == _uapi.ST_RESET
    assert _op(dev, _uapi.S2MM, _uapi.OP_STATUS).queued == 0
    buf.freebuffer()
    dma.close()


def test_bad_channel_ops(dev, handle):
    def op(**kw):
        ioctl(dev.fileno(), _uapi.IOC_CHAN_OP, _uapi.dmak_chan_op(**kw))

    assert _errno(lambda: op(channel=2, op=_uapi.OP_STATUS)) == errno.EINVAL
    assert _errno(lambda: op(channel=0, op=_uapi.OP_STATUS, flags=1)) == \
        errno.EINVAL
    assert _errno(lambda: op(channel=0, op=_uapi.OP_STATUS,
                             reserved=(ctypes.c_uint32 * 3)(0, 1, 0))) == \
        errno.EINVAL
    assert _errno(lambda: op(channel=0, op=99)) == errno.EINVAL
    assert _errno(lambda: op(channel=0, op=_uapi.OP_CANCEL, seq=1 << 40)) \
        == errno.ENOENT
    seq = _submit(dev, _x(handle), _x(handle, channel=_uapi.S2MM))[0]
    _wait(dev, seq, timeout_ms=10000)
    assert _errno(lambda: op(channel=0, op=_uapi.OP_CANCEL, seq=seq)) == \
        errno.EALREADY


def test_bad_channel_fd(dev):
    def chfd(channel, fd=0, **kw):
        arg = _uapi.dmak_channel_fd(channel=channel, fd=fd, **kw)
        ioctl(dev.fileno(), _uapi.IOC_CHANNEL_FD, arg)
        return arg.fd

    assert _errno(lambda: chfd(2)) == errno.EINVAL
    assert _errno(lambda: chfd(0, fd=3)) == errno.EINVAL
    assert _errno(lambda: chfd(0, flags=1)) == errno.EINVAL
    assert _errno(lambda: chfd(0, reserved=1)) == errno.EINVAL
    fd = chfd(_uapi.S2MM)
    try:
        with pytest.raises(OSError) as exc:
            ioctl(fd, _uapi.IOC_INFO, _uapi.dmak_info())
        assert exc.value.errno == errno.ENOTTY
    finally:
        import os
        os.close(fd)
