"""Cyclic capture (``recvchannel.stream()``) on the simulated SG IP.

The module reloads the simulator with ``instances=2 sg=0,1``: dmak0 is a
direct-mode IP, dmak1 an SG IP. The producer is dmak1's own MM2S channel
looping back into the S2MM capture: packets of 32-bit words, the first the
packet's running number n (0, 1, 2, ...), the rest derived from n, so
every byte of every slot can be checked against the slot's sequence
number. The loopback back-pressures MM2S while every slot is full, so no
packet is ever lost: sequence numbers stay consecutive even with a slow
consumer.
"""

import asyncio
import errno
import gc
import multiprocessing
import os
import signal
import threading
import time

import numpy as np
import pytest

import pydmak
from pydmak import _uapi
from pydmak._libc import ioctl
from conftest import live_buffers, sim_fault, sim_set, wait_for

DIRECT, SG = 0, 1


# -- set-up ------------------------------------------------------------------

# dmak0 direct, dmak1 SG (conftest); every test gives dmak1's memory back.
pytestmark = pytest.mark.usefixtures("sg_buffers_returned")


def _open(index=SG):
    dev = pydmak.Device(index)
    return dev, pydmak.DMA(dev)


def _close(dev, dma):
    try:
        if dma.sendchannel.error or dma.recvchannel.error \
                or dma.sendchannel.queued or dma.recvchannel.queued:
            dma.sendchannel.reset()
    finally:
        sim_fault("clear", SG)
        sim_set("bandwidth", 0, SG)
        dma.close()
        dev.close()


@pytest.fixture
def sg():
    """``(device, dma)`` of the SG instance; reset afterwards if needed."""
    dev, dma = _open()
    yield dev, dma
    _close(dev, dma)


# -- packets -----------------------------------------------------------------

def packets(first, count, words):
    """``count`` packets of ``words`` uint32 from running number ``first``.

    Word 0 is the packet's number n; word i is n * 2654435761 + i * 40503
    (mod 2**32), so a packet that is torn, shifted or stale shows.
    """
    n = np.arange(first, first + count, dtype=np.uint32)[:, None]
    i = np.arange(words, dtype=np.uint32)[None, :]
    out = n * np.uint32(2654435761) + i * np.uint32(40503)
    out[:, 0] = n[:, 0]
    return out


def alloc(dev, shape, dtype="u4", cached=False):
    return pydmak.allocate(shape, dtype, cacheable=cached, device=dev)


def works(dev, dma, nbytes=5000):
    """One ordinary loopback of ``nbytes`` arrives intact on S2MM."""
    src, dst = alloc(dev, nbytes, "u1"), alloc(dev, nbytes, "u1")
    src[:] = np.arange(nbytes) % 253
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src)
    assert dma.sendchannel.wait(10) == nbytes
    assert dma.recvchannel.wait(10) == nbytes
    assert np.array_equal(src, dst)
    src.freebuffer()
    dst.freebuffer()


def send_batch(dma, src, first):
    """Sends one packet per row of ``src``, numbered from ``first``."""
    src[:] = packets(first, src.shape[0], src.shape[1])
    dma.sendchannel.transfer_many([src[i] for i in range(src.shape[0])])


class Sender(threading.Thread):
    """Sends packets 0, 1, 2, ... on dmak1's MM2S, from an open file of its
    own, in batches, until ``stop()``; ``sent`` counts them."""

    def __init__(self, words, batch=64):
        super().__init__(daemon=True)
        self.dev, self.dma = _open()
        self.src = alloc(self.dev, (batch, words))
        self.sent = 0
        self.error = None
        self._stop_event = threading.Event()

    def run(self):
        try:
            while not self._stop_event.is_set():
                send_batch(self.dma, self.src, self.sent)
                self.sent += self.src.shape[0]
                self.dma.sendchannel.wait(120)    # then the buffer is free
        except BaseException as exc:              # reported by finish()
            self.error = exc

    def stop(self):
        self._stop_event.set()

    def finish(self):
        """Joins the thread (stop() first) and closes its file; idempotent.
        Raises what the thread raised."""
        if self.dev.closed:
            return
        self.join(60)
        assert not self.is_alive(), "the sender is stuck"
        self.src.freebuffer()
        self.dma.close()
        self.dev.close()
        if self.error:
            raise self.error


def check_slot(slot, number, words):
    """The slot holds all of packet ``number``, nothing else."""
    assert slot.dtype == np.uint32 and slot.shape == (words,), (
        slot.dtype, slot.shape)
    assert slot[0] == number, (int(slot[0]), number)
    assert np.array_equal(slot, packets(number, 1, words)[0]), number


def _cyclic(dev, op, **fields):
    arg = _uapi.dmak_cyclic(channel=fields.pop("channel", _uapi.S2MM),
                            op=op, **fields)
    ioctl(dev.fileno(), _uapi.IOC_CYCLIC, arg)
    return arg


def _errno(fn):
    with pytest.raises(OSError) as exc:
        fn()
    return exc.value.errno


# -- a consumer that keeps up -------------------------------------------------

@pytest.mark.parametrize("cached", [False, True], ids=["coherent", "cached"])
def test_consumer_that_keeps_up(sg, cached):
    """2000 packets through 16 slots, every word checked; the sender never
    gets more than 14 packets ahead, so the ring never fills."""
    dev, dma = sg
    slots, words, total = 16, 256, 2000
    batch = slots - 2          # + the slot held + one spare: never all full
    buf = alloc(dev, (slots, words), cached=cached)
    src = alloc(dev, (batch, words))
    overrun_flags = 0
    with dma.recvchannel.stream(buf, slots, timeout=10) as s:
        assert (s.slots, s.slot_bytes) == (slots, 4 * words)
        n = 0
        while n < total:
            dma.sendchannel.wait(10)              # src is free again
            send_batch(dma, src, n)
            for _ in range(batch):
                slot = next(s)
                assert slot.seq == n + 1 and slot.index == n % slots
                assert slot.sof and slot.eof
                overrun_flags += slot.overrun
                check_slot(slot, n, words)
                n += 1
        assert (s.filled, s.released, s.overruns) == (n, n - 1, 0)
    assert overrun_flags == 0
    assert s.closed and s.filled == n            # kept after close()
    works(dev, dma)                              # S2MM takes SUBMIT again
    del slot
    buf.freebuffer()
    src.freebuffer()


# -- a slow consumer ----------------------------------------------------------

def test_slow_consumer_never_sees_a_torn_slot(sg):
    """10 s of a consumer that sleeps on every slot of a 20 MB/s stream:
    the engine stalls again and again, yet every slot holds one whole
    packet, no packet is lost, and every stall is flagged on a slot."""
    dev, dma = sg
    slots, words = 8, 1024
    sim_set("bandwidth", 20_000_000, SG)
    buf = alloc(dev, (slots, words))
    extra = alloc(dev, (1, words))
    sender = Sender(words)
    flagged = n = 0
    done = False

    def take():
        nonlocal flagged, n
        slot = next(s)
        assert slot.seq == n + 1
        check_slot(slot, n, words)
        flagged += slot.overrun
        n += 1
        return slot

    try:
        with dma.recvchannel.stream(buf, slots, timeout=30) as s:
            sender.start()
            end = time.monotonic() + 10
            while time.monotonic() < end:
                slot = next(s)
                time.sleep(0.02)         # the engine would overwrite now
                assert slot.seq == n + 1
                check_slot(slot, n, words)
                flagged += slot.overrun
                n += 1
            assert n > 50
            assert s.overruns > 0
            # Drain at full speed what the sender has queued.
            sender.stop()
            while n < sender.sent or sender.is_alive():
                if n < sender.sent:
                    take()
                else:
                    time.sleep(0.01)
            sender.finish()
            assert n == sender.sent
            # A stall on the last slot is flagged on the next one to come.
            pending = s.overruns - flagged
            assert pending in (0, 1), (s.overruns, flagged)
            send_batch(dma, extra, n)
            assert take().overrun == bool(pending)
            assert s.overruns == flagged
            dma.sendchannel.wait(10)
            print(f"{n} slots, {flagged} overruns")
        done = True
    finally:
        sender.stop()
        if sender.is_alive():
            dma.sendchannel.reset()     # unblocks it behind a stopped capture
        try:
            sender.finish()
        except Exception:
            if done:                    # else the test's own error counts
                raise
    buf.freebuffer()
    extra.freebuffer()


# -- asyncio -----------------------------------------------------------------

def test_async_for(sg):
    dev, dma = sg
    slots, words, total = 8, 64, 600
    batch = slots - 2
    buf = alloc(dev, (slots, words))
    src = alloc(dev, (batch, words))

    async def consume():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        tick = asyncio.create_task(ticker())
        seen = []
        with dma.recvchannel.stream(buf, slots, timeout=0.2) as s:
            with pytest.raises(pydmak.DMATimeoutError):
                await s.__anext__()              # nothing sent yet
            s.timeout = None
            with pytest.raises(asyncio.TimeoutError):   # cancelled
                await asyncio.wait_for(s.__anext__(), 0.2)
            s.timeout = 10
            send_batch(dma, src, 0)
            async for slot in s:
                check_slot(slot, slot.seq - 1, words)
                seen.append(slot.seq)
                if slot.seq == total:
                    break
                if slot.seq % batch == 0:
                    await dma.sendchannel.wait_async()
                    send_batch(dma, src, slot.seq)
            overruns = s.overruns
        tick.cancel()
        return seen, ticks, overruns

    seen, ticks, overruns = asyncio.run(consume())
    assert seen == list(range(1, total + 1))
    assert overruns == 0
    assert ticks > 0                    # the loop ran while slots came
    buf.freebuffer()
    src.freebuffer()


# -- release -----------------------------------------------------------------

def test_release_hands_the_slot_back(sg):
    dev, dma = sg
    words = 64
    buf = alloc(dev, (2, words))
    src = alloc(dev, (4, words))
    with dma.recvchannel.stream(buf, 2, timeout=10) as s:
        send_batch(dma, src, 0)
        a = next(s)                                  # packet 0 in slot 0
        check_slot(a, 0, words)
        assert wait_for(lambda: s.filled == 2)       # slot 1: full, stall
        time.sleep(0.1)
        check_slot(a, 0, words)                      # held: untouched
        a.release()
        a.release()                                  # idempotent
        assert s.released == 1
        assert wait_for(lambda: s.filled == 3)       # slot 0 refilled...
        assert a[0] == 2                             # ...with packet 2
        b = next(s)                                  # packet 1 in slot 1
        check_slot(b, 1, words)
        assert s.released == 1                       # a went back before
        a.release()                                  # older: a no-op
        assert s.released == 1
        c = next(s)                                  # releases b
        assert s.released == 2
        check_slot(c, 2, words)
        b.release()                                  # after it advanced
        assert s.released == 2
        c.release()
        d = next(s)
        check_slot(d, 3, words)
        assert (s.filled, s.released) == (4, 3)
        assert s.overruns >= 1
    dma.sendchannel.wait(10)
    del a, b, c, d
    buf.freebuffer()
    src.freebuffer()


def test_capture_after_the_file_lost_records(sg):
    """400 loopbacks whose records the file never read overflow its record
    queue (256); the kernel flags the next record, the capture's first.
    The capture is whole, so the stream takes it."""
    dev, dma = sg
    words, n = 64, 400
    src, dst = alloc(dev, (n, words)), alloc(dev, (n, words))
    src[:] = packets(0, n, words)
    dma.recvchannel.transfer_many([dst[i] for i in range(n)])
    dma.sendchannel.transfer_many([src[i] for i in range(n)])
    dma.sendchannel.wait(30)
    dma.recvchannel.wait(30)
    assert np.array_equal(src, dst)
    buf = alloc(dev, (4, words))
    with dma.recvchannel.stream(buf, 4, timeout=10) as s:
        send_batch(dma, src[:3], 7)
        got = [next(s) for _ in range(3)]
        for number, slot in enumerate(got, 7):
            check_slot(slot, number, words)
        assert [slot.seq for slot in got] == [1, 2, 3]
    dma.sendchannel.wait(10)
    del got, slot
    for b in (src, dst, buf):
        b.freebuffer()


# -- packets and slots of other sizes -----------------------------------------

def test_packets_larger_and_smaller_than_a_slot(sg):
    dev, dma = sg
    slot_bytes, slots = 1024, 8
    sizes = [1024 + 500, 2048, 3 * 1024, 300, 301, 1024, 7, 1025, 4, 3000]
    offsets = np.cumsum([0] + [-(-n // 4) * 4 for n in sizes[:-1]])
    src = alloc(dev, int(offsets[-1]) + 4096, "u1")
    src[:] = np.random.default_rng(7).integers(0, 256, src.size)
    buf = alloc(dev, (slots, slot_bytes // 4))
    want = []                          # (sof, eof, nbytes) per slot
    for n in sizes:
        k = -(-n // slot_bytes)
        for j in range(k):
            want.append((j == 0, j == k - 1,
                         min(slot_bytes, n - j * slot_bytes)))
    got, packet, received = [], [], []
    with dma.recvchannel.stream(buf, slots, timeout=10) as s:
        dma.sendchannel.transfer_many(
            [(src, int(o), n) for o, n in zip(offsets, sizes)])
        for i in range(len(want)):
            slot = next(s)
            assert slot.seq == i + 1
            got.append((slot.sof, slot.eof, slot.nbytes))
            assert slot.dtype == (np.uint32 if slot.nbytes % 4 == 0
                                  else np.uint8)
            if slot.sof:
                packet = []
            packet.append(slot.view(np.uint8).copy())
            if slot.eof:
                received.append(np.concatenate(packet))
    assert got == want
    assert [r.size for r in received] == sizes
    for o, n, r in zip(offsets, sizes, received):
        assert np.array_equal(r, src[o:o + n]), n
    dma.sendchannel.wait(10)
    del slot
    works(dev, dma)
    src.freebuffer()
    buf.freebuffer()


# -- ending a capture ---------------------------------------------------------

def test_close_while_capturing(sg):
    """close() of an idle capture, then of one stalled with packets in
    flight: S2MM takes ordinary receives again, and those get the packets
    that were still in the stream, whole and in order."""
    dev, dma = sg
    words = 1024        # 32 packets of 4 KiB: more than slots + FIFO hold
    buf = alloc(dev, (4, words))
    src = alloc(dev, (32, words))
    s = dma.recvchannel.stream(buf, 4, timeout=10)
    send_batch(dma, src[:2], 0)
    check_slot(next(s), 0, words)
    check_slot(next(s), 1, words)
    dma.sendchannel.wait(10)
    s.close()
    s.close()
    assert list(s) == []
    works(dev, dma)

    s = dma.recvchannel.stream(buf, 4, timeout=10)
    send_batch(dma, src, 0)                      # 128 KiB: more than fits
    check_slot(next(s), 0, words)
    assert wait_for(lambda: s.filled == 4)       # stalled: all full
    time.sleep(0.1)
    s.close()
    assert s.filled == 4
    assert dma.sendchannel.queued > 0            # back-pressured
    dst = alloc(dev, (28, words))
    dst[:] = 0
    dma.recvchannel.transfer_many([dst[i] for i in range(28)])
    dma.sendchannel.wait(10)
    assert dma.recvchannel.wait(10) == 4 * words
    for i in range(28):
        check_slot(dst[i], 4 + i, words)
    works(dev, dma)
    buf.freebuffer()
    src.freebuffer()
    dst.freebuffer()


def _capture_some(dev, dma, words=1024, slots=4):
    """Starts a capture, takes two slots, then leaves it stalled with
    packets in flight (MM2S back-pressured: 128 KiB sent, 16 KiB of slots
    and a 64 KiB FIFO). Returns the stream and its buffers."""
    buf = alloc(dev, (slots, words))
    src = alloc(dev, (32, words))
    s = dma.recvchannel.stream(buf, slots, timeout=10)
    send_batch(dma, src, 0)
    check_slot(next(s), 0, words)
    check_slot(next(s), 1, words)
    assert wait_for(lambda: s.filled == slots + 1)
    return s, buf, src


def test_closing_the_device_stops_the_capture(sg):
    dev, dma = sg
    other, other_dma = _open()
    s, buf, src = _capture_some(other, other_dma)
    assert live_buffers(SG)[0] == 2
    spare = alloc(dev, 4096)
    with pytest.raises(pydmak.DmakError) as exc:   # dmak1's S2MM is taken
        dma.recvchannel.stream(spare, 2)
    assert exc.value.errno == errno.EBUSY
    spare.freebuffer()          # the traceback in exc still refers to it
    other_dma.close()
    other.close()
    assert list(s) == [] and s.closed
    del s, buf, src
    gc.collect()
    assert wait_for(lambda: live_buffers(SG) == (0, 0))
    assert dma.sendchannel.queued == 0 and dma.recvchannel.queued == 0
    works(dev, dma)
    buf = alloc(dev, (2, 64))
    with dma.recvchannel.stream(buf, 2) as s:    # and captures again
        send_batch(dma, alloc(dev, (1, 64)), 0)
        check_slot(next(s), 0, 64)
    dma.sendchannel.wait(10)
    del s
    buf.freebuffer()


def _capture_and_hang(conn):
    dev, dma = _open()
    _s, _buf, _src = _capture_some(dev, dma)
    conn.send(_s.filled)
    time.sleep(120)                     # killed long before


def test_kill_9_while_capturing(sg):
    dev, dma = sg
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_capture_and_hang, args=(child,))
    p.start()
    try:
        assert parent.poll(60), "the child died before capturing"
        assert parent.recv() == 5
        assert live_buffers(SG)[0] >= 2
        spare = alloc(dev, 64)
        with pytest.raises(pydmak.DmakError) as exc:
            dma.recvchannel.transfer(spare)
        assert exc.value.errno == errno.EBUSY
        spare.freebuffer()      # the traceback in exc still refers to it
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.join(30)
    assert p.exitcode == -signal.SIGKILL
    gc.collect()
    assert wait_for(lambda: live_buffers(SG) == (0, 0))
    assert dma.sendchannel.queued == 0 and dma.recvchannel.queued == 0
    works(dev, dma)


# -- errors -------------------------------------------------------------------

def test_direct_mode_is_refused():
    dev, dma = _open(DIRECT)
    try:
        buf = alloc(dev, 4096)
        with pytest.raises(pydmak.DmakError, match="scatter-gather") as exc:
            dma.recvchannel.stream(buf, 4)
        assert exc.value.errno == errno.EOPNOTSUPP
        assert _errno(lambda: _cyclic(
            dev, _uapi.CYCLIC_START, handle=buf._alloc().raw.handle,
            slots=4, slot_size=1024)) == errno.EOPNOTSUPP
        buf.freebuffer()
    finally:
        dma.close()
        dev.close()


def test_bad_arguments(sg):
    dev, dma = sg
    info = dma.info
    buf = alloc(dev, 4096)
    with pytest.raises(ValueError, match="captures on the receive channel"):
        dma.sendchannel.stream(buf, 4)
    for slots in (0, 1, info.ring_size + 1):
        with pytest.raises(ValueError, match="slots must be 2.."):
            dma.recvchannel.stream(buf, slots)
    with pytest.raises(ValueError, match=f"at most {info.desc_max} bytes"):
        dma.recvchannel.stream(buf, 2, info.desc_max + 64)
    with pytest.raises(ValueError, match="the buffer has 16384"):
        dma.recvchannel.stream(buf, 4, 8192)
    with pytest.raises(ValueError, match="not a multiple of 4"):
        dma.recvchannel.stream(buf, 4, 1022)
    with pytest.raises(ValueError, match="C-contiguous"):
        dma.recvchannel.stream(buf[::2], 2)
    with pytest.raises(TypeError, match="pydmak.allocate"):
        dma.recvchannel.stream(np.zeros(64, np.uint32), 2)
    # The kernel checks them too.
    h = buf._alloc().raw.handle
    start = _uapi.CYCLIC_START
    for bad in (dict(slots=1, slot_size=64),
                dict(slots=info.ring_size + 1, slot_size=8),
                dict(slots=2, slot_size=0),
                dict(slots=2, slot_size=62),                    # unaligned
                dict(slots=2, slot_size=64, offset=2),
                dict(slots=2, slot_size=8192, offset=4),        # too long
                dict(slots=2, slot_size=info.desc_max + 64),
                dict(slots=2, slot_size=64, channel=_uapi.MM2S),
                dict(slots=2, slot_size=64, reserved=(1, 0))):
        assert _errno(lambda: _cyclic(dev, start, handle=h, **bad)) == \
            errno.EINVAL, bad
    assert _errno(lambda: _cyclic(dev, 9)) == errno.EINVAL
    for op in (_uapi.CYCLIC_RELEASE, _uapi.CYCLIC_STOP, _uapi.CYCLIC_STATUS):
        assert _errno(lambda: _cyclic(dev, op, seq=0)) == errno.ENOENT
    works(dev, dma)
    buf.freebuffer()


def test_busy(sg):
    dev, dma = sg
    other, other_dma = _open()
    try:
        buf, buf2 = alloc(dev, (4, 64)), alloc(dev, (4, 64))
        # transfers queued on S2MM: no capture
        dst = alloc(dev, 64)
        dma.recvchannel.transfer(dst)
        with pytest.raises(pydmak.DmakError, match="1 transfer is queued") \
                as exc:
            dma.recvchannel.stream(buf, 4)
        assert exc.value.errno == errno.EBUSY
        dma.recvchannel.cancel()
        with dma.recvchannel.stream(buf, 4, timeout=10) as s:
            # a second capture, from this file or another
            with pytest.raises(pydmak.DmakError,
                               match="a capture already runs") as exc:
                dma.recvchannel.stream(buf2, 4)
            assert exc.value.errno == errno.EBUSY
            obuf = alloc(other, (4, 64))
            with pytest.raises(pydmak.DmakError) as exc:
                other_dma.recvchannel.stream(obuf, 4)
            assert exc.value.errno == errno.EBUSY
            # SUBMIT to S2MM, from either file
            for d, b in ((dma, dst), (other_dma, obuf)):
                with pytest.raises(pydmak.DmakError,
                                   match="S2MM is capturing") as exc:
                    d.recvchannel.transfer(b)
                assert exc.value.errno == errno.EBUSY
                assert d.recvchannel.queued == 0
            # another file may not touch it
            for op in (_uapi.CYCLIC_RELEASE, _uapi.CYCLIC_STOP,
                       _uapi.CYCLIC_STATUS):
                assert _errno(lambda: _cyclic(other, op)) == errno.ENOENT
            # MM2S is free, and RELEASE cannot pass what was filled
            send_batch(dma, alloc(dev, (1, 64)), 0)
            check_slot(next(s), 0, 64)
            assert _errno(lambda: _cyclic(
                dev, _uapi.CYCLIC_RELEASE, seq=2)) == errno.EINVAL
            assert s.filled == 1
        dma.sendchannel.wait(10)
        works(dev, dma)
        del s, obuf
        for b in (buf, buf2, dst):
            b.freebuffer()
    finally:
        other_dma.close()
        other.close()


def test_dma_error_ends_the_capture_and_reset_recovers(sg):
    dev, dma = sg
    words = 64
    buf = alloc(dev, (4, words))
    src = alloc(dev, (3, words))
    s = dma.recvchannel.stream(buf, 4, timeout=10)
    send_batch(dma, src[:2], 0)
    check_slot(next(s), 0, words)
    check_slot(next(s), 1, words)
    dma.sendchannel.wait(10)
    # The fault hits the next descriptor the engine begins: the one after
    # the slot it already waits on, so one more good slot may come first.
    sim_fault("s2mm slverr", SG)
    send_batch(dma, src, 2)
    good = 0
    with pytest.raises(pydmak.DMAError) as exc:
        for _ in range(3):
            check_slot(next(s), 2 + good, words)
            good += 1
    assert good <= 1
    err = exc.value
    assert err.channel == "S2MM" and err.status == _uapi.ST_DMA_SLV_ERR
    assert "DMASlvErr" in str(err) and "recvchannel.reset()" in str(err)
    assert err.dmasr & (1 << 5)                    # DMASR.DMASlvErr
    with pytest.raises(pydmak.DMAError):           # until close()
        next(s)
    assert s.filled == 2 + good
    s.close()
    assert list(s) == []
    assert "DMASlvErr" in dma.recvchannel.error
    dma.recvchannel.reset()
    assert dma.recvchannel.error is None
    assert dma.sendchannel.queued == 0 and dma.recvchannel.queued == 0
    works(dev, dma)
    with dma.recvchannel.stream(buf, 4, timeout=10) as s:   # again
        send_batch(dma, src[:2], 7)
        check_slot(next(s), 7, words)
        check_slot(next(s), 8, words)
    dma.sendchannel.wait(10)
    buf.freebuffer()
    src.freebuffer()
