"""Completion events: poll/select, asyncio, read() records, signals,
several processes, and files closed with transfers queued."""

import asyncio
import ctypes
import errno
import gc
import multiprocessing
import os
import selectors
import signal
import time

import numpy as np
import pytest

import pydmak
from pydmak import _uapi
from pydmak._libc import ioctl
from conftest import live_buffers, wait_for


def _pair(dev, n=4096):
    src = pydmak.allocate(n, "u1", device=dev)
    dst = pydmak.allocate(n, "u1", device=dev)
    src[:] = np.arange(n) % 253
    return src, dst


def test_select_wakes_on_completion(dma, dev):
    src, dst = _pair(dev)
    with selectors.DefaultSelector() as sel:
        sel.register(dma.recvchannel.fileno(), selectors.EVENT_READ, "rx")
        sel.register(dma.sendchannel.fileno(), selectors.EVENT_READ, "tx")
        assert dma.recvchannel.fileno() != dma.sendchannel.fileno()
        assert sel.select(timeout=0.2) == []      # nothing ended yet
        dma.recvchannel.transfer(dst)
        assert sel.select(timeout=0.2) == []      # waiting for data
        dma.sendchannel.transfer(src)
        ready = set()
        deadline = time.monotonic() + 10
        while ready != {"rx", "tx"} and time.monotonic() < deadline:
            ready |= {key.data for key, _ in sel.select(timeout=1)}
        assert ready == {"rx", "tx"}
    assert dma.recvchannel.wait(0) == src.nbytes
    dma.sendchannel.wait(0)
    assert np.array_equal(src, dst)


def test_records_from_read(dma, dev):
    src, dst = _pair(dev)
    dma.recvchannel.transfer(dst, cookie=0xC0FFEE)
    dma.sendchannel.transfer(src, 0, 1000, cookie=42)
    fd = dma.recvchannel.fileno()
    rec = _uapi.dmak_completion()
    assert os.readv(fd, [rec]) == ctypes.sizeof(rec)    # blocks until it ends
    assert (rec.cookie, rec.bytes, rec.channel, rec.status) == \
        (0xC0FFEE, 1000, _uapi.S2MM, _uapi.ST_OK)
    # The device file reads both channels; the send record is there.
    os.set_blocking(dev.fileno(), False)
    got = bytearray(ctypes.sizeof(rec) * 4)
    n = os.readv(dev.fileno(), [got])
    assert n == ctypes.sizeof(rec)
    tx = _uapi.dmak_completion.from_buffer(got)
    assert (tx.cookie, tx.bytes, tx.channel) == (42, 1000, _uapi.MM2S)
    with pytest.raises(BlockingIOError):
        os.readv(dev.fileno(), [got])
    with pytest.raises(OSError) as exc:
        os.read(fd, 8)                               # smaller than a record
    assert exc.value.errno == errno.EINVAL
    dma.recvchannel.wait(0)
    dma.sendchannel.wait(0)


def test_the_device_file_reads_records_as_they_came(dma, dev):
    """Both channels' records from the device file, in the order the
    transfers ended, not all of one channel first."""
    src, dst = _pair(dev)
    for i in range(3):                      # MM2S ends first, then S2MM
        dma.recvchannel.transfer(dst, cookie=10 + i)
        dma.sendchannel.transfer(src, cookie=20 + i)
        dma.recvchannel.wait(10)
        dma.sendchannel.wait(10)
    # WAIT consumed them: queue again and only read.
    for i in range(3):
        dma.recvchannel.transfer(dst, cookie=10 + i)
        dma.sendchannel.transfer(src, cookie=20 + i)
        assert wait_for(lambda: dma.recvchannel.queued == 0, 10)
    recs = (_uapi.dmak_completion * 6)()
    assert os.readv(dev.fileno(), [recs]) == ctypes.sizeof(recs)
    assert [r.cookie for r in recs] == [20, 10, 21, 11, 22, 12]
    dma.recvchannel.wait(0)
    dma.sendchannel.wait(0)


def test_a_large_cached_receive_is_reported_before_later_ones(dma, dev):
    """A receive into more than 64 KiB of cached memory is synced for the
    CPU by a work item, not with interrupts off; the transfers that end
    after it are still reported after it, and every byte is there."""
    sizes = (1 << 20, 256, 3 << 16, 64)
    srcs = [pydmak.allocate(n, "u1", device=dev) for n in sizes]
    dsts = [pydmak.allocate(n, "u1", cacheable=True, device=dev)
            for n in sizes]
    for i, src in enumerate(srcs):
        src[:] = (np.arange(src.nbytes) * (i + 3)) % 251
    for i, dst in enumerate(dsts):
        dma.recvchannel.transfer(dst, cookie=i)
    for src in srcs:
        dma.sendchannel.transfer(src)
    fd = dma.recvchannel.fileno()
    got = []
    while len(got) < len(sizes):
        recs = (_uapi.dmak_completion * 4)()
        n = os.readv(fd, [recs]) // ctypes.sizeof(_uapi.dmak_completion)
        got += [(r.cookie, r.status, r.bytes) for r in recs[:n]]
    assert got == [(i, _uapi.ST_OK, n) for i, n in enumerate(sizes)]
    dma.sendchannel.wait(10)
    assert dma.recvchannel.wait(10) == sizes[-1]
    for src, dst in zip(srcs, dsts):
        assert np.array_equal(src, dst)
        src.freebuffer()
        dst.freebuffer()


def test_wait_consumes_records(dma, dev):
    src, dst = _pair(dev)
    with selectors.DefaultSelector() as sel:
        sel.register(dma.recvchannel.fileno(), selectors.EVENT_READ)
        dma.recvchannel.transfer(dst)
        dma.sendchannel.transfer(src)
        dma.recvchannel.wait(10)
        dma.sendchannel.wait(10)
        assert sel.select(timeout=0) == []


def _wait_ioctl(dev, channel, seq, flags):
    arg = _uapi.dmak_wait(channel=channel, seq=seq, timeout_ms=10000,
                          flags=flags)
    ioctl(dev.fileno(), _uapi.IOC_WAIT, arg)
    return arg


def test_a_peeking_wait_leaves_the_records_to_read(dma, dev):
    """WAIT with DMAK_WAIT_PEEK reports the end and leaves the records of
    the file for a reader; a plain WAIT then consumes them. An unknown
    flag is EINVAL."""
    src, dst = _pair(dev)
    dma.loopback(src, dst)
    seq = dma.recvchannel._pending[-1]
    assert _wait_ioctl(dev, _uapi.S2MM, seq, _uapi.WAIT_PEEK).status == \
        _uapi.ST_OK
    fd = dma.recvchannel.fileno()
    os.set_blocking(fd, False)
    rec = _uapi.dmak_completion()
    assert os.readv(fd, [rec]) == ctypes.sizeof(rec)     # still there
    assert (rec.seq, rec.status) == (seq, _uapi.ST_OK)
    dma.sendchannel.wait(10)
    dma.loopback(src, dst)
    seq = dma.recvchannel._pending[-1]
    _wait_ioctl(dev, _uapi.S2MM, seq, 0)
    with pytest.raises(BlockingIOError):                 # consumed
        os.readv(fd, [rec])
    with pytest.raises(OSError) as exc:
        _wait_ioctl(dev, _uapi.S2MM, seq, 2)
    assert exc.value.errno == errno.EINVAL
    dma.recvchannel.wait(10)
    dma.sendchannel.wait(10)


def test_wait_async(dma, dev):
    src, dst = _pair(dev)

    async def main():
        dma.recvchannel.transfer(dst)
        waiter = asyncio.ensure_future(dma.recvchannel.wait_async())
        await asyncio.sleep(0.1)
        assert not waiter.done()
        dma.sendchannel.transfer(src)
        got = await asyncio.wait_for(waiter, 10)
        await asyncio.wait_for(dma.sendchannel.wait_async(), 10)
        return got

    assert asyncio.run(main()) == src.nbytes
    assert np.array_equal(src, dst)


class _Interrupted(Exception):
    pass


def test_signal_interrupts_a_blocking_wait(dma, dev):
    src, dst = _pair(dev)

    def handler(signum, frame):
        raise _Interrupted

    old = signal.signal(signal.SIGALRM, handler)
    try:
        dma.recvchannel.transfer(dst)
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        start = time.monotonic()
        with pytest.raises(_Interrupted):
            dma.recvchannel.wait()                # no limit
        assert time.monotonic() - start < 5
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    dma.sendchannel.transfer(src)                 # still queued: data comes
    assert dma.recvchannel.wait(10) == src.nbytes
    dma.sendchannel.wait(10)
    assert np.array_equal(src, dst)


def test_a_signal_that_does_not_raise_keeps_the_wait(dma, dev):
    src, dst = _pair(dev)
    hits = []
    old = signal.signal(signal.SIGALRM, lambda *a: hits.append(1))
    try:
        dma.recvchannel.transfer(dst)
        signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)
        with pytest.raises(pydmak.DMATimeoutError):
            dma.recvchannel.wait(0.8)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert len(hits) >= 3
    dma.recvchannel.cancel()


def _streamer(seed, rounds, queue):
    try:
        rng = np.random.default_rng(seed)
        with pydmak.Device(0) as dev, pydmak.DMA(dev) as dma:
            for _ in range(rounds):
                n = int(rng.integers(1, 20000))
                src = pydmak.allocate(n, "u1", device=dev,
                                      cacheable=bool(seed % 2))
                dst = pydmak.allocate(n, "u1", device=dev)
                src[:] = rng.integers(0, 256, n, dtype=np.uint8)
                dma.loopback(src, dst)
                dma.sendchannel.wait(30)
                got = dma.recvchannel.wait(30)
                if got != n or not np.array_equal(src, dst):
                    raise AssertionError(f"round with {n} bytes: got {got}")
                src.freebuffer()
                dst.freebuffer()
        queue.put((seed, "ok"))
    except Exception as exc:     # reported to the parent, which asserts
        queue.put((seed, repr(exc)))


def test_four_processes_stream_at_once():
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_streamer, args=(seed, 25, queue))
             for seed in range(4)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=240) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert results == {seed: "ok" for seed in range(4)}


def _queue_and_exit(conn):
    dev = pydmak.Device(0)
    dma = pydmak.DMA(dev)
    dst = pydmak.allocate(1 << 20, "u1", device=dev)
    src = pydmak.allocate(1 << 20, "u1", device=dev, cacheable=True)
    dma.recvchannel.transfer(dst)
    for _ in range(20):
        dma.sendchannel.transfer(src)      # more than the FIFO holds
    conn.send(dma.sendchannel.queued)
    os._exit(0)                            # the kernel closes the file


def test_closing_a_file_with_transfers_queued(dma, dev):
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_queue_and_exit, args=(child,))
    p.start()
    assert parent.poll(60), "the child died before queueing"
    assert parent.recv() >= 2
    p.join(30)
    assert p.exitcode == 0
    assert wait_for(lambda: live_buffers() == (0, 0))
    assert dma.sendchannel.queued == 0 and dma.recvchannel.queued == 0
    src, dst = _pair(dev)
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src)
    dma.sendchannel.wait(10)
    assert dma.recvchannel.wait(10) == src.nbytes
    assert np.array_equal(src, dst)
    del src, dst
    gc.collect()
