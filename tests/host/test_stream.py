"""pydmak.stream without a device: slot layout, records, and CyclicStream
against a fake kernel.

The fake kernel answers DMAK_IOC_CYCLIC as the header's contract says and
hands out a pipe as the S2MM channel file: "filling" a slot writes its
bytes into the buffer and a ``dmak_completion`` record into the pipe, so
poll(), os.readv and the event loop's add_reader see real readiness.
"""

import asyncio
import ctypes
import errno
import gc
import os
import threading
import time

import numpy as np
import pytest

import pydmak
from fakes import FakeDevice, fake_buffer
from pydmak import _uapi
from pydmak import dma as dma_mod
from pydmak import stream as stream_mod
from pydmak.buffer import DMABuffer
from pydmak.device import DeviceInfo
from pydmak.stream import (Record, Slot, decode_records, max_slots,
                           slot_array, slot_layout)


def _info(sg=True, dre=False, ring_size=256, desc_max=16320, data_width=32):
    return DeviceInfo(abi_version=_uapi.ABI_VERSION, mm2s=True, s2mm=True,
                      sg=sg, dre=dre, length_width=14, addr_width=32,
                      data_width=data_width,
                      ring_size=ring_size if sg else 0,
                      max_transfer=desc_max * ring_size if sg else 16383,
                      buf_quota=0, buf_used=0,
                      desc_max=desc_max if sg else 0,
                      delay_unit_ns=1250 if sg else 0)


SG = _info()
DIRECT = _info(sg=False)


# -- slot layout --------------------------------------------------------------

@pytest.mark.parametrize("nbytes, itemsize, slots, info, want", [
    (8 * 4096, 2, 8, SG, 4096),
    (1000, 1, 3, SG, 332),                 # 333 rounded to the 4-byte beat
    (1000, 8, 3, SG, 328),                 # ... and to the 8-byte item
    (1000, 2, 3, _info(dre=True), 332),    # DRE: items only
    (1000, 1, 3, _info(dre=True), 333),
    (1000, 3, 3, SG, 324),                 # lcm(4, 3) = 12
    (64, 1, 2, _info(data_width=256), 32),
    (10 * 16320, 1, 2, SG, None),          # 81600 > desc_max
])
def test_default_slot_size(nbytes, itemsize, slots, info, want):
    if want is None:
        with pytest.raises(ValueError, match="at most 16320 bytes per slot"):
            slot_layout(nbytes, itemsize, slots, None, info)
    else:
        assert slot_layout(nbytes, itemsize, slots, None, info) == want


def test_explicit_slot_size():
    assert slot_layout(4096, 4, 4, 1024, SG) == 1024
    assert slot_layout(4096, 4, 4, 1000, SG) == 1000   # not whole items: ok
    assert slot_layout(4096, 1, 4, 1023, _info(dre=True)) == 1023
    assert slot_layout(16320 * 2, 1, 2, 16320, SG) == 16320


@pytest.mark.parametrize("nbytes, itemsize, slots, slot_bytes, exc, text", [
    (4096, 1, 1, None, ValueError, r"slots must be 2\.\.256"),
    (4096, 1, 0, None, ValueError, r"slots must be 2\.\.256"),
    (1 << 20, 1, 257, None, ValueError, r"2\.\.256 \(the descriptor ring"),
    (4096, 1, True, None, TypeError, "slots must be an int, not bool"),
    (4096, 1, 2.0, None, TypeError, "slots must be an int, not float"),
    (4096, 1, 4, 1022, ValueError, "not a multiple of 4 bytes"),
    (4096, 1, 4, 0, ValueError, "at least 1"),
    (4096, 1, 4, -4, ValueError, "at least 1"),
    (4096, 1, 4, 512.0, TypeError, "slot_bytes must be an int"),
    (4096, 1, 4, 1028, ValueError, "need 4112 bytes; the buffer has 4096"),
    (1 << 20, 1, 4, 16384, ValueError, "at most 16320 bytes per slot"),
    (6, 1, 2, None, ValueError, "too few for 2 slots of at least 4 bytes"),
    (12, 8, 2, None, ValueError, "too few for 2 slots of at least 8 bytes"),
])
def test_bad_slots(nbytes, itemsize, slots, slot_bytes, exc, text):
    with pytest.raises(exc, match=text):
        slot_layout(nbytes, itemsize, slots, slot_bytes, SG)


def test_slots_are_bounded_by_ring_and_records():
    assert max_slots(_info(ring_size=16)) == 16
    assert max_slots(_info(ring_size=4096)) == _uapi.RECORDS
    with pytest.raises(ValueError, match="completion records"):
        slot_layout(1 << 20, 1, 300, 64, _info(ring_size=4096))
    with pytest.raises(ValueError, match=r"2\.\.16 \(the descriptor ring"):
        slot_layout(1 << 20, 1, 17, 64, _info(ring_size=16))


# -- records and views --------------------------------------------------------

def _record(seq, index, nbytes, flags=0, status=0, channel=_uapi.S2MM,
            cyclic=True, dmasr=0x2):
    return _uapi.dmak_completion(
        seq=seq, cookie=index, bytes=nbytes, channel=channel, status=status,
        dmasr=dmasr,
        flags=flags | (_uapi.COMPL_CYCLIC if cyclic else 0))


def test_decode_keeps_cyclic_s2mm_records_only():
    recs = [_record(1, 0, 64, _uapi.COMPL_SOF | _uapi.COMPL_EOF),
            _record(9, 7, 100, cyclic=False),                 # a transfer
            _record(3, 0, 8, channel=_uapi.MM2S),
            _record(2, 1, 32, _uapi.COMPL_SOF | _uapi.COMPL_OVERRUN),
            _record(3, 2, 0, status=_uapi.ST_DMA_SLV_ERR, dmasr=0x4021),
            _record(99, 0, 1)]                                  # not read
    array = (_uapi.dmak_completion * 8)(*recs)
    got = decode_records(array, 5)
    assert [r.seq for r in got] == [1, 2, 3]
    a, b, c = got
    assert (a.index, a.nbytes, a.sof, a.eof, a.overrun) == (0, 64, True,
                                                            True, False)
    assert (b.index, b.nbytes, b.sof, b.eof, b.overrun) == (1, 32, True,
                                                            False, True)
    assert (c.status, c.dmasr) == (_uapi.ST_DMA_SLV_ERR, 0x4021)
    assert not a.lost_before
    assert Record(1, 0, 0, 0, 0, _uapi.COMPL_OVERFLOW).lost_before


def test_slot_array_views_items_or_bytes():
    flat = np.arange(64, dtype=np.uint8)
    v = slot_array(flat, 16, 8, np.dtype("<u4"))
    assert v.dtype == np.dtype("<u4") and v.shape == (2,)
    assert v[0] == int.from_bytes(bytes(range(16, 20)), "little")
    assert np.shares_memory(v, flat)
    v = slot_array(flat, 16, 7, np.dtype("<u4"))       # a partial item
    assert v.dtype == np.uint8 and list(v) == list(range(16, 23))
    v = slot_array(flat, 0, 32, np.dtype("u2"), (4, 4))
    assert v.shape == (4, 4)
    v = slot_array(flat, 0, 30, np.dtype("u2"), (4, 4))  # short: flat
    assert v.shape == (15,)


# -- a fake kernel ------------------------------------------------------------

class FakeKernel:
    """Answers CHANNEL_FD, CYCLIC and CHAN_OP STATUS; fills slots on demand."""

    def __init__(self):
        self.calls = []             # (op name, seq)
        self.cap = None             # the running capture: a dict
        self.errors = {}            # op -> errno to refuse it with
        self.queued = 0
        self.pipes = []             # (read end, write end)
        self.seq = 0

    def __call__(self, fd, request, arg):
        assert fd == 1000
        if request == _uapi.IOC_CHANNEL_FD:
            assert arg.channel == _uapi.S2MM
            r, w = os.pipe()
            self.pipes.append((r, w))
            arg.fd = r
            return 0
        if request == _uapi.IOC_CHAN_OP:
            arg.queued = self.queued
            return 0
        assert request == _uapi.IOC_CYCLIC, hex(request)
        assert arg.channel == _uapi.S2MM and not any(arg.reserved)
        name = {0: "START", 1: "RELEASE", 2: "STOP", 3: "STATUS"}[arg.op]
        self.calls.append((name, arg.seq))
        if name in self.errors:
            raise OSError(self.errors[name], os.strerror(self.errors[name]))
        if name == "START":
            assert self.cap is None
            self.cap = dict(handle=arg.handle, slots=arg.slots,
                            offset=arg.offset, slot_size=arg.slot_size,
                            filled=0, released=0, overruns=0)
            return 0
        if self.cap is None:
            raise OSError(errno.ENOENT, "no capture")
        cap = self.cap
        if name == "STOP":
            self.cap = None
            return 0
        if name == "RELEASE":
            if arg.seq > cap["filled"]:
                raise OSError(errno.EINVAL, "beyond filled")
            cap["released"] = max(cap["released"], arg.seq)
        arg.filled, arg.released = cap["filled"], cap["released"]
        arg.overruns = cap["overruns"]
        return 0

    @property
    def wfd(self):
        return self.pipes[-1][1]

    def push(self, *records):
        os.write(self.wfd, b"".join(bytes(r) for r in records))

    def fill(self, buf, nbytes=None, flags=None, overrun=False):
        """The engine fills the next slot with bytes derived from its seq."""
        cap = self.cap
        assert cap["filled"] - cap["released"] < cap["slots"], "stalled"
        index = cap["filled"] % cap["slots"]
        cap["filled"] += 1
        seq = cap["filled"]
        size = cap["slot_size"] if nbytes is None else nbytes
        flat = buf.reshape(-1).view(np.uint8)
        start = index * cap["slot_size"]
        flat[start:start + size] = (seq + np.arange(size)) % 251
        if flags is None:
            flags = _uapi.COMPL_SOF | _uapi.COMPL_EOF
        if overrun:
            cap["overruns"] += 1
            flags |= _uapi.COMPL_OVERRUN
        self.push(_record(seq, index, size, flags))
        return seq

    def fail(self, status=_uapi.ST_DMA_SLV_ERR, dmasr=0x4021):
        cap = self.cap
        self.push(_record(cap["filled"] + 1, cap["filled"] % cap["slots"], 0,
                          status=status, dmasr=dmasr))

    def names(self, *which):
        return [c for c in self.calls if c[0] in which]

    def close(self):
        for r, w in self.pipes:
            for fd in (r, w):
                try:
                    os.close(fd)
                except OSError:
                    pass


@pytest.fixture
def kernel(monkeypatch):
    k = FakeKernel()
    monkeypatch.setattr(stream_mod, "ioctl", k)
    monkeypatch.setattr(dma_mod, "ioctl", k)
    yield k
    gc.collect()                 # finalizers run while the fake answers
    k.close()


@pytest.fixture
def dma(kernel):
    return pydmak.DMA(FakeDevice(SG))


def _expect(seq, size):
    return (seq + np.arange(size)) % 251


# -- CyclicStream -------------------------------------------------------------

def test_slots_come_in_order_and_the_previous_is_released(dma, kernel):
    buf = fake_buffer(dma.device, 4 * 256, "u1")
    s = dma.recvchannel.stream(buf, 4)
    assert (s.slots, s.slot_bytes) == (4, 256)
    cap = kernel.cap
    assert (cap["slots"], cap["slot_size"], cap["offset"]) == (4, 256, 0)
    assert cap["handle"] == buf._dmak.raw.handle
    for _ in range(3):
        kernel.fill(buf)
    a = next(s)
    assert isinstance(a, Slot) and isinstance(a, DMABuffer)
    assert (a.seq, a.index, a.sof, a.eof, a.overrun) == (1, 0, True, True,
                                                         False)
    assert np.shares_memory(a, buf) and a.physical_address == \
        buf.physical_address
    assert np.array_equal(a, _expect(1, 256))
    assert kernel.names("RELEASE") == []          # held while looked at
    b = next(s)
    assert (b.seq, b.index) == (2, 1)
    assert b.physical_address == buf.physical_address + 256
    assert kernel.names("RELEASE") == [("RELEASE", 1)]
    next(s)
    assert kernel.names("RELEASE") == [("RELEASE", 1), ("RELEASE", 2)]
    # the ring wraps: slot 0 again
    kernel.fill(buf)
    kernel.fill(buf)
    d, e = next(s), next(s)
    assert (d.seq, d.index, e.seq, e.index) == (4, 3, 5, 0)
    assert np.array_equal(e, _expect(5, 256))
    assert (s.filled, s.released, s.overruns) == (5, 4, 0)
    s.close()
    assert kernel.cap is None and kernel.names("STOP") == [("STOP", 0)]


def test_explicit_release_is_cumulative_and_idempotent(dma, kernel):
    buf = fake_buffer(dma.device, 8 * 64, "u1")
    s = dma.recvchannel.stream(buf, 8, 64)
    for _ in range(4):
        kernel.fill(buf)
    a = next(s)
    a.release()                          # before the stream moves on
    assert kernel.names("RELEASE") == [("RELEASE", 1)]
    b = next(s)                          # slot 1 is already back
    assert kernel.names("RELEASE") == [("RELEASE", 1)]
    a.release()                          # older than what was released
    b.release()
    b.release()
    b[:2].release()                      # a view of a slot is that slot
    assert kernel.names("RELEASE") == [("RELEASE", 1), ("RELEASE", 2)]
    c = next(s)                          # nothing more to release
    assert kernel.names("RELEASE") == [("RELEASE", 1), ("RELEASE", 2)]
    next(s)
    assert kernel.names("RELEASE")[-1] == ("RELEASE", 3)
    assert s.released == 3
    s.close()
    c.release()                          # after close: nothing happens
    assert len(kernel.names("RELEASE")) == 3


def test_slot_views_take_the_buffers_dtype_or_bytes(dma, kernel):
    buf = fake_buffer(dma.device, (4, 16), "<u4")
    s = dma.recvchannel.stream(buf, 4)
    assert s.slot_bytes == 64
    kernel.fill(buf)                          # a full slot: a row
    kernel.fill(buf, nbytes=20)               # 5 whole items
    kernel.fill(buf, nbytes=7, flags=_uapi.COMPL_EOF)   # a partial item
    a, b, c = next(s), next(s), next(s)
    assert a.dtype == np.dtype("<u4") and a.shape == (16,)
    assert np.array_equal(a.view(np.uint8), _expect(1, 64))
    assert b.dtype == np.dtype("<u4") and b.shape == (5,)
    assert c.dtype == np.uint8 and c.shape == (7,)
    assert (c.sof, c.eof) == (False, True)
    assert np.array_equal(c, _expect(3, 7))
    s.close()
    img = fake_buffer(dma.device, (3, 4, 8), "u2")   # three 4x8 frames
    s = dma.recvchannel.stream(img, 3)
    kernel.fill(img)
    frame = next(s)
    assert frame.shape == (4, 8) and frame.dtype == np.dtype("u2")
    assert np.shares_memory(frame, img[0])
    s.close()


def test_ufunc_results_are_not_slots_that_release(dma, kernel):
    buf = fake_buffer(dma.device, 2 * 64, "u1")
    with dma.recvchannel.stream(buf, 2) as s:
        kernel.fill(buf)
        a = next(s)
        b = a + 1
        with pytest.raises(ValueError, match="not live in a DMA buffer"):
            b.physical_address
        c = a.copy()
        assert c.seq == 1
        c.release()
        assert kernel.names("RELEASE") == [("RELEASE", 1)]


def test_overrun_flag(dma, kernel):
    buf = fake_buffer(dma.device, 2 * 64, "u1")
    with dma.recvchannel.stream(buf, 2) as s:
        kernel.fill(buf)
        kernel.fill(buf, overrun=True)
        assert [x.overrun for x in (next(s), next(s))] == [False, True]
        assert s.overruns == 1


def test_timeout_then_the_capture_goes_on(dma, kernel):
    buf = fake_buffer(dma.device, 2 * 64, "u1")
    with dma.recvchannel.stream(buf, 2, timeout=0.05) as s:
        start = time.monotonic()
        with pytest.raises(pydmak.DMATimeoutError, match="within 0.05 s"):
            next(s)
        assert 0.04 < time.monotonic() - start < 1
        kernel.fill(buf)
        assert next(s).seq == 1
    with pytest.raises(ValueError, match="negative"):
        dma.recvchannel.stream(buf, 2, timeout=-1)
    with pytest.raises(TypeError, match="timeout"):
        dma.recvchannel.stream(buf, 2, timeout="1")
    with dma.recvchannel.stream(buf, 2, timeout=1) as s:
        assert s.timeout == 1.0
        s.timeout = None
        assert s.timeout is None
        with pytest.raises(ValueError, match="negative"):
            s.timeout = -0.5


def test_blocked_next_wakes_when_a_slot_fills(dma, kernel):
    buf = fake_buffer(dma.device, 2 * 64, "u1")
    with dma.recvchannel.stream(buf, 2) as s:
        timer = threading.Timer(0.3, kernel.fill, (buf,))
        timer.start()
        start = time.monotonic()
        assert next(s).seq == 1
        assert 0.25 < time.monotonic() - start < 5
        timer.join()


def test_close_from_another_thread_ends_a_blocked_next(dma, kernel):
    buf = fake_buffer(dma.device, 2 * 64, "u1")
    s = dma.recvchannel.stream(buf, 2)
    fd = s.fileno()
    got = []
    t = threading.Thread(target=lambda: got.extend(s))
    t.start()
    time.sleep(0.2)
    s.close()
    t.join(5)
    assert not t.is_alive() and got == []
    assert kernel.cap is None
    with pytest.raises(OSError):          # the channel file is closed
        os.fstat(fd)


def test_error_record_raises_dma_error_after_the_good_slots(dma, kernel):
    buf = fake_buffer(dma.device, 4 * 64, "u1")
    s = dma.recvchannel.stream(buf, 4)
    kernel.fill(buf)
    kernel.fill(buf)
    kernel.fail()
    assert next(s).seq == 1
    assert next(s).seq == 2
    with pytest.raises(pydmak.DMAError) as exc:
        next(s)
    err = exc.value
    assert (err.channel, err.status, err.dmasr) == ("S2MM",
                                                    _uapi.ST_DMA_SLV_ERR,
                                                    0x4021)
    assert "DMASlvErr" in str(err) and "recvchannel.reset()" in str(err)
    assert "slot 2 after 2 filled slots" in str(err)
    with pytest.raises(pydmak.DMAError):       # sticky until close()
        next(s)
    assert s.filled == 2
    s.close()
    assert kernel.names("STOP") == [("STOP", 0)]
    with pytest.raises(StopIteration):
        next(s)


def test_a_reset_ends_the_capture_with_an_error(dma, kernel):
    buf = fake_buffer(dma.device, 4 * 64, "u1")
    s = dma.recvchannel.stream(buf, 4)
    kernel.fill(buf)
    kernel.fail(_uapi.ST_RESET, 0)
    kernel.cap = None                       # RESET ended it
    kernel.errors["RELEASE"] = errno.ENOENT
    next(s)
    with pytest.raises(pydmak.DMAError, match="reset of the core"):
        next(s)
    assert s.filled == 1                    # ENOENT: the last known values
    s.close()                               # STOP: ENOENT, ignored


def test_lost_records_are_an_error(dma, kernel):
    buf = fake_buffer(dma.device, 4 * 64, "u1")
    s = dma.recvchannel.stream(buf, 4)
    kernel.fill(buf)
    kernel.push(_record(3, 2, 64))
    next(s)
    with pytest.raises(pydmak.DmakError, match=r"slots 2\.\.2 were lost") \
            as exc:
        next(s)
    assert exc.value.errno == errno.EOVERFLOW
    s.close()


def test_records_lost_before_the_capture_are_no_error(dma, kernel):
    """The file lost records of earlier transfers it never read: the kernel
    flags the next record, the capture's first, which is all there."""
    buf = fake_buffer(dma.device, 4 * 64, "u1")
    s = dma.recvchannel.stream(buf, 4)
    kernel.fill(buf)
    kernel.push(_record(1, 0, 64, _uapi.COMPL_OVERFLOW))
    kernel.push(_record(2, 1, 64))
    assert [next(s).seq, next(s).seq] == [1, 2]
    s.close()


def test_records_from_before_the_capture_are_ignored(dma, kernel):
    buf = fake_buffer(dma.device, 4 * 64, "u1")
    s = dma.recvchannel.stream(buf, 4)
    s.close()
    # left in the file by the first capture and by ordinary transfers
    r, w = os.pipe()
    kernel.pipes.append((r, w))
    real = kernel.__call__

    def channel_fd(fd, request, arg):
        if request == _uapi.IOC_CHANNEL_FD:
            arg.fd = r
            os.write(w, bytes(_record(7, 2, 64)) +
                     bytes(_record(5, 0, 9, cyclic=False)))
            return 0
        return real(fd, request, arg)

    stream_mod.ioctl = channel_fd
    s = dma.recvchannel.stream(buf, 4, timeout=0.05)
    with pytest.raises(pydmak.DMATimeoutError):
        next(s)
    kernel.push(_record(5, 0, 9, cyclic=False))      # a stray one, later
    kernel.fill(buf)
    assert next(s).seq == 1
    s.close()


def test_async_for(dma, kernel):
    buf = fake_buffer(dma.device, 4 * 64, "u1")

    async def main():
        loop = asyncio.get_running_loop()
        s = dma.recvchannel.stream(buf, 4)
        for i in range(6):
            loop.call_later(0.02 * (i + 1), kernel.fill, buf)
        seen = []
        async for slot in s:
            assert np.array_equal(slot, _expect(slot.seq, 64))
            seen.append((slot.seq, slot.index))
            if slot.seq == 6:
                break
        assert kernel.names("RELEASE")[-1] == ("RELEASE", 5)
        s.close()
        return seen

    assert asyncio.run(main()) == [(i + 1, i % 4) for i in range(6)]


def test_async_timeout_and_close_from_another_task(dma, kernel):
    buf = fake_buffer(dma.device, 4 * 64, "u1")

    async def main():
        s = dma.recvchannel.stream(buf, 4, timeout=0.05)
        with pytest.raises(pydmak.DMATimeoutError):
            await s.__anext__()
        s.timeout = None
        loop = asyncio.get_running_loop()
        loop.call_later(0.1, s.close)
        seen = [slot async for slot in s]
        return seen, s

    seen, s = asyncio.run(main())
    assert seen == [] and s.closed and kernel.cap is None


def test_start_errors(dma, kernel):
    buf = fake_buffer(dma.device, 4 * 64, "u1")
    kernel.errors["START"] = errno.EBUSY
    with pytest.raises(pydmak.DmakError, match="a capture already runs") \
            as exc:
        dma.recvchannel.stream(buf, 4)
    assert exc.value.errno == errno.EBUSY
    kernel.queued = 3
    with pytest.raises(pydmak.DmakError, match="3 transfers are queued"):
        dma.recvchannel.stream(buf, 4)
    kernel.errors["START"] = errno.EIO
    with pytest.raises(pydmak.DMAError, match="halted after an error"):
        dma.recvchannel.stream(buf, 4)
    kernel.errors["START"] = errno.EINVAL
    with pytest.raises(pydmak.DmakError, match="refused the slots"):
        dma.recvchannel.stream(buf, 4)
    kernel.errors["START"] = errno.ENOTTY          # an older module
    with pytest.raises(pydmak.DmakError, match="no cyclic capture"):
        dma.recvchannel.stream(buf, 4)
    # a refused START is never stopped (it may be another stream's)
    assert kernel.names("STOP") == []
    gc.collect()
    for r, _ in kernel.pipes:              # every channel file was closed
        with pytest.raises(OSError):
            os.fstat(r)


def test_argument_errors(dma, kernel):
    buf = fake_buffer(dma.device, 4 * 64, "u1")
    with pytest.raises(ValueError, match="captures on the receive channel"):
        dma.sendchannel.stream(buf, 4)
    with pytest.raises(TypeError, match="pydmak.allocate"):
        dma.recvchannel.stream(np.zeros(256, np.uint8), 4)
    with pytest.raises(ValueError, match="C-contiguous"):
        dma.recvchannel.stream(buf[::2], 2)
    odd = fake_buffer(dma.device, 256, misalign=2)
    with pytest.raises(ValueError, match="not a multiple of 4 bytes"):
        dma.recvchannel.stream(odd, 4, 60)
    with pytest.raises(ValueError, match=r"slots must be 2\.\.256"):
        dma.recvchannel.stream(buf, 1)
    with pytest.raises(ValueError, match="the buffer has 256"):
        dma.recvchannel.stream(buf, 4, 128)
    assert kernel.calls == []


def test_direct_mode_is_refused(kernel):
    dma = pydmak.DMA(FakeDevice(DIRECT))
    buf = fake_buffer(dma.device, 256)
    with pytest.raises(pydmak.DmakError, match="scatter-gather") as exc:
        dma.recvchannel.stream(buf, 4)
    assert exc.value.errno == errno.EOPNOTSUPP
    assert kernel.calls == []


def test_a_lost_stream_is_stopped_by_its_finalizer(dma, kernel):
    buf = fake_buffer(dma.device, 4 * 64, "u1")
    s = dma.recvchannel.stream(buf, 4)
    fd = s.fileno()
    kernel.fill(buf)
    slot = next(s)
    del s
    gc.collect()
    assert kernel.cap is not None        # the slot keeps its stream
    del slot
    gc.collect()
    assert kernel.cap is None
    with pytest.raises(OSError):
        os.fstat(fd)


def test_closing_the_device_ends_iteration(dma, kernel):
    buf = fake_buffer(dma.device, 4 * 64, "u1")
    s = dma.recvchannel.stream(buf, 4)
    kernel.fill(buf)
    dma.device.close()
    assert list(s) == []
    assert s.closed


def test_submit_during_a_capture_is_explained(dma, kernel):
    buf = fake_buffer(dma.device, 256)

    def busy(fd, request, arg):
        raise OSError(errno.EBUSY, "busy")

    dma_mod.ioctl = busy
    with pytest.raises(pydmak.DmakError, match="S2MM is capturing") as exc:
        dma.recvchannel.transfer(buf)
    assert exc.value.errno == errno.EBUSY


def test_repr(dma, kernel):
    buf = fake_buffer(dma.device, 4 * 64, "u1")
    s = dma.recvchannel.stream(buf, 4)
    assert "4 slots of 64 bytes" in repr(s)
    s.close()
    s.close()                                # idempotent
    assert "closed" in repr(s)
    assert ctypes.sizeof(_uapi.dmak_cyclic) == 80
