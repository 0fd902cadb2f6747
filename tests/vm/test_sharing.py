"""Several open files of one device.

Each file sees only its own buffers, transfers and capture (another's are
ENOENT: see test_device.py and test_transfer_errors.py). What acts on the
whole core is limited: RESET, which ends every file's transfers, needs
CAP_SYS_RAWIO while another file has work there, unless a channel is
halted on an error; CANCEL of a running transfer resets the core, so it
needs CAP_SYS_RAWIO while another file's transfer runs (EBUSY). A child
process that dropped root (and with it every capability) makes the calls
on inherited descriptors.
"""

import ctypes
import errno
import time

import pytest

import pydmak
from pydmak import _uapi
from pydmak._libc import ioctl
from conftest import as_nobody, sim_fault, wait_for


def _op(dev, channel, op, seq=0):
    arg = _uapi.dmak_chan_op(channel=channel, op=op, seq=seq)
    ioctl(dev.fileno(), _uapi.IOC_CHAN_OP, arg)
    return arg


def _result(dev, channel, seq):
    arg = _uapi.dmak_wait(channel=channel, seq=seq, timeout_ms=10000)
    ioctl(dev.fileno(), _uapi.IOC_WAIT, arg)
    return arg.status


@pytest.fixture
def two():
    """Two open files of dmak0 (direct mode) and a buffer of each."""
    mine, theirs = pydmak.Device(0), pydmak.Device(0)
    bufs = (mine.alloc(4096), theirs.alloc(4096))
    yield mine, theirs, bufs
    sim_fault("clear")
    if _op(mine, _uapi.MM2S, _uapi.OP_STATUS).error or \
            _op(mine, _uapi.S2MM, _uapi.OP_STATUS).error:
        _op(mine, _uapi.MM2S, _uapi.OP_RESET)
    mine.close()
    theirs.close()


def _submit(dev, buf, channel):
    xfer = _uapi.dmak_xfer(channel=channel, handle=buf.handle, length=64)
    arg = _uapi.dmak_submit(xfers=ctypes.addressof(xfer), count=1)
    ioctl(dev.fileno(), _uapi.IOC_SUBMIT, arg)
    return xfer.seq


def test_reset_ends_everyones_work_so_it_is_limited(two):
    mine, theirs, (my_buf, their_buf) = two
    seq = _submit(theirs, their_buf, _uapi.S2MM)     # waits for data
    assert as_nobody(lambda: _op(mine, _uapi.S2MM, _uapi.OP_RESET)) == \
        errno.EPERM
    assert _op(mine, _uapi.S2MM, _uapi.OP_STATUS).queued == 1  # untouched
    _op(mine, _uapi.S2MM, _uapi.OP_RESET)            # root may
    assert _result(theirs, _uapi.S2MM, seq) == _uapi.ST_RESET
    # No other file's work on the core: anyone may.
    assert as_nobody(lambda: _op(mine, _uapi.S2MM, _uapi.OP_RESET)) == 0
    # A channel halted on an error: recovery is always allowed.
    seq = _submit(theirs, their_buf, _uapi.S2MM)
    sim_fault("mm2s decerr")
    sent = _submit(mine, my_buf, _uapi.MM2S)
    assert _result(mine, _uapi.MM2S, sent) == _uapi.ST_DMA_DEC_ERR
    assert as_nobody(lambda: _op(mine, _uapi.MM2S, _uapi.OP_RESET)) == 0
    assert _result(theirs, _uapi.S2MM, seq) == _uapi.ST_RESET
    assert not _op(mine, _uapi.MM2S, _uapi.OP_STATUS).error


def _running_side_by_side(two):
    """A receive of mine and a send of theirs, both running: (receive,
    stuck)."""
    mine, theirs, (my_buf, their_buf) = two
    receive = _submit(mine, my_buf, _uapi.S2MM)      # runs: no data
    sim_fault("mm2s stall")
    stuck = _submit(theirs, their_buf, _uapi.MM2S)   # runs, never ends
    assert wait_for(lambda: _op(theirs, _uapi.MM2S,
                                _uapi.OP_STATUS).queued == 1)
    return receive, stuck


def test_cancel_of_a_running_transfer_beside_anothers_is_limited(two):
    mine, theirs, (my_buf, their_buf) = two
    receive, stuck = _running_side_by_side(two)
    assert as_nobody(lambda: _op(mine, _uapi.S2MM, _uapi.OP_CANCEL,
                                  receive)) == errno.EBUSY
    # Nor may they touch mine: not theirs to see.
    assert as_nobody(lambda: _op(theirs, _uapi.S2MM, _uapi.OP_CANCEL,
                                  receive)) == errno.ENOENT
    _op(mine, _uapi.S2MM, _uapi.OP_CANCEL, receive)  # root may
    assert _result(mine, _uapi.S2MM, receive) == _uapi.ST_CANCELLED
    assert _result(theirs, _uapi.MM2S, stuck) == _uapi.ST_RESET
    # Alone on the core, a running transfer is anyone's to cancel.
    receive = _submit(mine, my_buf, _uapi.S2MM)
    assert as_nobody(lambda: _op(mine, _uapi.S2MM, _uapi.OP_CANCEL,
                                  receive)) == 0
    assert _result(mine, _uapi.S2MM, receive) == _uapi.ST_CANCELLED


def test_a_refused_cancel_leaves_the_transfer_as_it_was(two):
    """After an EBUSY CANCEL, the transfer still runs and nothing marks it
    cancelled: a RESET that may end it (root's) ends it RESET."""
    mine, theirs, _ = two
    receive, stuck = _running_side_by_side(two)
    for _ in range(3):
        assert as_nobody(lambda: _op(mine, _uapi.S2MM, _uapi.OP_CANCEL,
                                      receive)) == errno.EBUSY
    assert _op(mine, _uapi.S2MM, _uapi.OP_STATUS).queued == 1
    _op(theirs, _uapi.MM2S, _uapi.OP_RESET)         # root may
    assert _result(mine, _uapi.S2MM, receive) == _uapi.ST_RESET
    assert _result(theirs, _uapi.MM2S, stuck) == _uapi.ST_RESET


def _errno_of(fn):
    with pytest.raises(OSError) as exc:
        fn()
    return exc.value.errno


def test_another_files_transfers_are_not_there(two):
    """WAIT and CANCEL of another file's transfer, queued or ended, answer
    ENOENT at once: nothing to wait out, nothing said of its existence."""
    mine, theirs, (my_buf, their_buf) = two

    def wait(dev, channel, seq):
        arg = _uapi.dmak_wait(channel=channel, seq=seq, timeout_ms=5000)
        ioctl(dev.fileno(), _uapi.IOC_WAIT, arg)

    pending = _submit(theirs, their_buf, _uapi.S2MM)  # waits for data
    start = time.monotonic()
    assert _errno_of(lambda: wait(mine, _uapi.S2MM, pending)) == errno.ENOENT
    assert time.monotonic() - start < 2                 # not waited out
    assert _errno_of(lambda: _op(mine, _uapi.S2MM, _uapi.OP_CANCEL,
                                 pending)) == errno.ENOENT
    sent = _submit(theirs, their_buf, _uapi.MM2S)
    assert _result(theirs, _uapi.MM2S, sent) == _uapi.ST_OK
    assert _result(theirs, _uapi.S2MM, pending) == _uapi.ST_OK
    for channel, seq in ((_uapi.MM2S, sent), (_uapi.S2MM, pending)):
        assert _errno_of(lambda: _op(mine, channel, _uapi.OP_CANCEL,
                                     seq)) == errno.ENOENT
        assert _errno_of(lambda: wait(mine, channel, seq)) == errno.ENOENT
    # One's own ended transfer: EALREADY.
    received = _submit(mine, my_buf, _uapi.S2MM)
    sent = _submit(mine, my_buf, _uapi.MM2S)
    assert _result(mine, _uapi.S2MM, received) == _uapi.ST_OK
    assert _errno_of(lambda: _op(mine, _uapi.MM2S, _uapi.OP_CANCEL,
                                 sent)) == errno.EALREADY


def test_pydmak_says_what_it_takes(two):
    mine, theirs, (_, their_buf) = two
    _submit(theirs, their_buf, _uapi.S2MM)
    dma = pydmak.DMA(mine)

    def reset():
        try:
            dma.recvchannel.reset()
        except pydmak.DmakError as exc:
            assert "CAP_SYS_RAWIO" in str(exc) and "RESET" in str(exc)
            raise
    assert as_nobody(reset) == errno.EPERM
    dma.recvchannel.reset()
    dma.close()
