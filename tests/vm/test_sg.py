"""Scatter-gather beside direct mode, on one simulator with two instances.

The module reloads the simulator with ``instances=2 sg=0,1
length_width=14``: dmak0 is a direct-mode IP, dmak1 an SG IP whose
descriptors carry at most 16320 bytes (2^14 - 1 rounded down to 64), so
transfers of more are split. Every test checks real bytes and real counts.
"""

import ctypes
import errno
import gc
import multiprocessing
import os
import pathlib
import signal
import time

import numpy as np
import pytest

import pydmak
from pydmak import _uapi
from pydmak import dma as dma_mod
from pydmak._libc import ioctl
from conftest import (SYSFS, assert_buffers_returned, live_buffers,
                      receive_range, sim_fault, sim_set, sysfs_attr, wait_for,
                      with_modules)

DIRECT, SG = 0, 1
LENGTH_WIDTH = 14
DESC_MAX = ((1 << LENGTH_WIDTH) - 1) // 64 * 64          # 16320
RNG = np.random.default_rng(2025)
SENTINEL = 0xA5

ERR_IRQ = 1 << 14
DMA_INT_ERR, DMA_SLV_ERR, DMA_DEC_ERR = 1 << 4, 1 << 5, 1 << 6
SG_INT_ERR, SG_SLV_ERR, SG_DEC_ERR = 1 << 8, 1 << 9, 1 << 10


# -- set-up ------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def two_instances():
    """dmak0 direct and dmak1 SG; the default load again afterwards."""
    yield from with_modules(["instances=2", "sg=0,1",
                             f"length_width={LENGTH_WIDTH}"])


@pytest.fixture(autouse=True)
def no_leaked_sg_buffers(two_instances):
    """The SG instance gets back all the buffer memory a test took."""
    yield
    assert_buffers_returned(SG)


def _open(index):
    dev = pydmak.Device(index)
    return dev, pydmak.DMA(dev)


def _close(dev, dma, index):
    try:
        if dma.sendchannel.error or dma.recvchannel.error:
            dma.sendchannel.reset()
        if dma.sendchannel.queued or dma.recvchannel.queued:
            dma.sendchannel.reset()
    finally:
        sim_fault("clear", index)
        sim_set("bandwidth", 0, index)
        sim_set("fifo_depth", 65536, index)
        dma.close()
        dev.close()


@pytest.fixture(params=[DIRECT, SG], ids=["direct", "sg"])
def any_ip(request):
    """``(index, device, dma)`` of each instance in turn."""
    dev, dma = _open(request.param)
    yield request.param, dev, dma
    _close(dev, dma, request.param)


@pytest.fixture
def sg():
    """``(device, dma)`` of the SG instance."""
    dev, dma = _open(SG)
    yield dev, dma
    _close(dev, dma, SG)


@pytest.fixture
def direct():
    """``(device, dma)`` of the direct-mode instance."""
    dev, dma = _open(DIRECT)
    yield dev, dma
    _close(dev, dma, DIRECT)


# -- helpers -----------------------------------------------------------------

def raw(buf):
    """The bytes of a DMA buffer, as a flat uint8 view."""
    return buf.view(np.uint8).reshape(-1)


def fill(buf):
    raw(buf)[:] = RNG.integers(0, 256, buf.nbytes, dtype=np.uint8)


def alloc(dev, nbytes, cached=False, sentinel=None):
    buf = pydmak.allocate(nbytes, "u1", cacheable=cached, device=dev)
    if sentinel is None:
        fill(buf)
    else:
        buf[:] = sentinel
    return buf


def works(dev, dma, nbytes=5000):
    """One loopback of ``nbytes`` arrives intact."""
    src, dst = alloc(dev, nbytes), alloc(dev, nbytes, sentinel=0)
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src)
    assert dma.sendchannel.wait(10) == nbytes
    assert dma.recvchannel.wait(10) == nbytes
    assert np.array_equal(src, dst)
    src.freebuffer()
    dst.freebuffer()


def result(channel, seq):
    """How transfer ``seq`` of ``channel`` ended: (status, bytes)."""
    arg = channel._wait_once(seq, 10000)
    return arg.status, arg.bytes


def aligned(n, align=4):
    return -(-n // align) * align


def lengths_for(count, rng, big_every=0, last_any=True):
    """``count`` piece lengths: multiples of 4 but the last, some large."""
    out = []
    for i in range(count):
        if big_every and i % big_every == big_every - 1:
            n = int(rng.integers(DESC_MAX + 1, 2 * DESC_MAX + 500)) // 4 * 4
        else:
            n = int(rng.integers(1, 700)) * 4
        out.append(n)
    if last_any:
        out[-1] = int(rng.integers(1, 3000))
    return out


def pieces(dev, lengths, sentinel=None):
    """Pieces of the given lengths, in three forms: a whole buffer, a
    ``(buffer, start, nbytes)`` tuple into a buffer of its own (cached every
    other time), and tuples into one shared pool. Returns
    ``(specs, views, buffers)``; ``views[i]`` is the bytes of piece i."""
    pool_len = sum(aligned(n) + 12 for n in lengths)
    pool = alloc(dev, pool_len, sentinel=sentinel)
    specs, views, bufs, at = [], [], [pool], 0
    for i, n in enumerate(lengths):
        form = i % 3
        if form == 0:
            buf = alloc(dev, n, cached=bool(i % 2), sentinel=sentinel)
            specs.append(buf)
            views.append(raw(buf))
            bufs.append(buf)
        elif form == 1:
            # 4 bytes into its buffer and short of its end; where the
            # device does not snoop the CPU caches, a cached piece starts
            # on a line instead and ends with its buffer, as a receive
            # into it must.
            line = dev.cache_alignment if i % 2 else 1
            start, tail = (4, 4) if line == 1 else (line, 0)
            buf = alloc(dev, start + n + tail, cached=bool(i % 2),
                        sentinel=sentinel)
            specs.append((buf, start, n))
            views.append(raw(buf)[start:start + n])
            bufs.append(buf)
        else:
            at += 8
            specs.append((pool, at, n))
            views.append(raw(pool)[at:at + n])
            at = aligned(at + n)
    return specs, views, bufs


def _raw_submit(dev, xfers):
    """One SUBMIT of raw entries; returns their seqs."""
    array = (_uapi.dmak_xfer * len(xfers))(*xfers)
    arg = _uapi.dmak_submit(xfers=ctypes.addressof(array), count=len(xfers))
    ioctl(dev.fileno(), _uapi.IOC_SUBMIT, arg)
    return [x.seq for x in array]


def _errno(fn):
    """The errno of the OSError ``fn()`` raises."""
    with pytest.raises(OSError) as exc:
        fn()
    return exc.value.errno


def free(*buffers):
    for b in buffers:
        b.freebuffer()


# -- what INFO says -----------------------------------------------------------

def test_info_of_both_instances(direct, sg):
    d, s = direct[0].info, sg[0].info
    assert (d.sg, d.ring_size, d.desc_max, d.delay_unit_ns) == (False, 0, 0,
                                                                0)
    assert d.max_transfer == (1 << LENGTH_WIDTH) - 1
    assert s.sg and s.ring_size >= 2
    assert s.ring_size == int(sysfs_attr("ring_size", SG))
    assert s.desc_max == DESC_MAX == int(sysfs_attr("desc_max", SG))
    assert s.max_transfer == DESC_MAX * s.ring_size
    assert s.max_transfer == int(sysfs_attr("max_transfer", SG))
    assert s.delay_unit_ns > 0
    assert "sg" in sysfs_attr("features", SG).split()
    assert "sg" not in sysfs_attr("features", DIRECT).split()
    assert f"sg ring_size={s.ring_size}" in repr(sg[1])
    assert "direct" in repr(direct[1])
    assert sg[1].buffer_max_size == s.max_transfer
    for ch in (sg[1].sendchannel, sg[1].recvchannel):
        assert ch.coalescing == (1, 0.0)       # module defaults


# -- transfers of every size ------------------------------------------------

SIZES = [1, 3, 64, DESC_MAX, DESC_MAX + 1, 50000, 3 * DESC_MAX + 5, 1 << 20]


@pytest.mark.parametrize("cached", [False, True], ids=["coherent", "cached"])
def test_sizes(any_ip, cached):
    index, dev, dma = any_ip
    for nbytes in SIZES:
        src = alloc(dev, nbytes, cached=cached)
        dst = alloc(dev, min(nbytes + 64, dma.info.max_transfer),
                    cached=cached, sentinel=SENTINEL)
        if nbytes > dma.info.max_transfer:     # direct mode: too long
            with pytest.raises(ValueError, match="at most 16383 bytes"):
                dma.sendchannel.transfer(src)
            assert index == DIRECT
        else:
            dma.recvchannel.transfer(*receive_range(dst, nbytes))
            dma.sendchannel.transfer(src)
            assert dma.sendchannel.wait(30) == nbytes
            assert dma.recvchannel.wait(30) == nbytes, nbytes
            assert np.array_equal(raw(dst)[:nbytes], raw(src)), nbytes
            assert (raw(dst)[nbytes:] == SENTINEL).all(), nbytes
        free(src, dst)


def test_one_transfer_fills_the_whole_ring(sg):
    """A gather whose pieces take exactly ring_size descriptors works; one
    descriptor more is refused, by pydmak and by the kernel."""
    dev, dma = sg
    ring = dma.info.ring_size
    n = ring // 2                          # pieces of 2 descriptors each
    piece = DESC_MAX + 4
    total = n * piece + 4 * (ring - 2 * n)     # + a 4-byte piece if odd
    src = alloc(dev, total + 4)
    dst = alloc(dev, total, sentinel=0)
    specs = [(src, i * piece, piece) for i in range(n)]
    specs += [(src, n * piece, 4)] * (ring - 2 * n)
    dma.sendchannel.transfer(specs)
    dma.recvchannel.transfer(dst)
    assert dma.sendchannel.wait(30) == total
    assert dma.recvchannel.wait(30) == total
    assert np.array_equal(raw(dst), raw(src)[:total])
    over = specs + [(src, total, 4)]
    with pytest.raises(ValueError, match=f"{ring + 1} descriptors"):
        dma.sendchannel.transfer(over)
    handle = src._alloc().raw.handle
    xfers = [_uapi.dmak_xfer(channel=_uapi.MM2S, handle=handle, offset=o,
                             length=length, flags=_uapi.XFER_MORE)
             for _, o, length in over]
    xfers[-1].flags = 0
    assert _errno(lambda: _raw_submit(dev, xfers)) == errno.EMSGSIZE
    assert dma.sendchannel.queued == 0
    free(src, dst)


# -- gather and scatter -----------------------------------------------------

@pytest.mark.parametrize("count", [1, 2, 3, 7, 16, 64])
def test_gather_into_one_packet(sg, count):
    dev, dma = sg
    rng = np.random.default_rng(count)
    lengths = lengths_for(count, rng, big_every=5)
    specs, views, bufs = pieces(dev, lengths)
    total = sum(lengths)
    dst = alloc(dev, total + 64, sentinel=SENTINEL)
    dma.recvchannel.transfer(dst)
    seq = dma.sendchannel.transfer(specs, cookie=77)
    assert dma.sendchannel.wait(30) == total
    assert dma.recvchannel.wait(30) == total          # one packet
    assert np.array_equal(raw(dst)[:total], np.concatenate(views))
    assert (raw(dst)[total:] == SENTINEL).all()
    assert result(dma.sendchannel, seq) == (_uapi.ST_OK, total)
    free(dst, *bufs)


@pytest.mark.parametrize("count", [2, 5, 16, 64])
def test_scatter_one_packet_over_pieces(sg, count):
    dev, dma = sg
    rng = np.random.default_rng(100 + count)
    lengths = lengths_for(count, rng, big_every=4)
    specs, views, bufs = pieces(dev, lengths, sentinel=SENTINEL)
    total = sum(lengths)
    src = alloc(dev, total)
    dma.recvchannel.transfer(specs)
    dma.sendchannel.transfer(src)
    assert dma.sendchannel.wait(30) == total
    assert dma.recvchannel.wait(30) == total
    assert np.array_equal(np.concatenate(views), raw(src))
    pool = raw(bufs[0])                       # bytes between pieces: intact
    touched = np.zeros(pool.size, bool)
    for spec in specs:
        if isinstance(spec, tuple) and spec[0] is bufs[0]:
            touched[spec[1]:spec[1] + spec[2]] = True
    assert (pool[~touched] == SENTINEL).all()
    free(src, *bufs)


def test_gather_to_scatter_with_other_boundaries(sg):
    dev, dma = sg
    rng = np.random.default_rng(5)
    send_len = lengths_for(5, rng, big_every=2)
    total = sum(send_len)
    cut = sorted(rng.choice(np.arange(1, total // 4), 8, replace=False) * 4)
    recv_len = list(np.diff([0, *cut, total]))
    sspecs, sviews, sbufs = pieces(dev, send_len)
    rspecs, rviews, rbufs = pieces(dev, [int(n) for n in recv_len],
                                   sentinel=0)
    dma.recvchannel.transfer(rspecs)
    dma.sendchannel.transfer(sspecs)
    dma.sendchannel.wait(30)
    assert dma.recvchannel.wait(30) == total
    assert np.array_equal(np.concatenate(rviews), np.concatenate(sviews))
    free(*sbufs, *rbufs)


def test_scatter_receives_a_short_packet(sg):
    dev, dma = sg
    specs, views, bufs = pieces(dev, [4000] * 5, sentinel=SENTINEL)
    src = alloc(dev, 9000)
    dma.recvchannel.transfer(specs)
    dma.sendchannel.transfer(src)
    dma.sendchannel.wait(10)
    assert dma.recvchannel.wait(10) == 9000
    got = np.concatenate(views)
    assert np.array_equal(got[:9000], raw(src))
    assert (got[9000:] == SENTINEL).all()
    works(dev, dma, 30000)            # the unused pieces took nothing
    free(src, *bufs)


def test_gather_in_direct_mode_is_refused(direct):
    dev, dma = direct
    a, b = alloc(dev, 64), alloc(dev, 64)
    with pytest.raises(pydmak.DmakError, match="scatter-gather") as exc:
        dma.sendchannel.transfer([a, b])
    assert exc.value.errno == errno.EOPNOTSUPP
    with pytest.raises(pydmak.DmakError) as exc:
        dma.recvchannel.transfer_many([a, [a, b]])
    assert exc.value.errno == errno.EOPNOTSUPP
    with pytest.raises(pydmak.DmakError) as exc:
        dma.loopback([a, b], alloc(dev, 128))
    assert exc.value.errno == errno.EOPNOTSUPP
    # The kernel says the same of a MORE entry.
    xfers = [_uapi.dmak_xfer(channel=_uapi.MM2S, handle=a._alloc().raw.handle,
                             length=64, flags=_uapi.XFER_MORE),
             _uapi.dmak_xfer(channel=_uapi.MM2S, handle=b._alloc().raw.handle,
                             length=64)]
    assert _errno(lambda: _raw_submit(dev, xfers)) == errno.EOPNOTSUPP
    assert dma.sendchannel.queued == 0 and dma.recvchannel.queued == 0
    # One piece is no gather: it works.
    dst = alloc(dev, 64, sentinel=0)
    dma.recvchannel.transfer([dst])
    dma.sendchannel.transfer([(a, 0, 64)])
    dma.sendchannel.wait(10)
    assert dma.recvchannel.wait(10) == 64
    assert np.array_equal(a, dst)
    free(a, b, dst)


def test_bad_gathers_are_refused_by_the_kernel(sg):
    dev, dma = sg
    buf = alloc(dev, 4096)
    h = buf._alloc().raw.handle

    def x(length, flags=0, channel=_uapi.MM2S, offset=0):
        return _uapi.dmak_xfer(channel=channel, handle=h, offset=offset,
                               length=length, flags=flags)

    more = _uapi.XFER_MORE
    # a piece before the last that is not a whole number of beats
    assert _errno(lambda: _raw_submit(dev, [x(6, more), x(8)])) == \
        errno.EINVAL
    # the batch ends inside a packet
    assert _errno(lambda: _raw_submit(dev, [x(8), x(8, more)])) == \
        errno.EINVAL
    # a packet that changes channel
    assert _errno(lambda: _raw_submit(
        dev, [x(8, more), x(8, channel=_uapi.S2MM)])) == errno.EINVAL
    assert dma.sendchannel.queued == 0 and dma.recvchannel.queued == 0
    # A good one gets one seq, written back to each of its entries.
    xfers = [x(8, more), x(8, more, offset=64), x(5, offset=128)]
    seqs = _raw_submit(dev, xfers + [x(4)])
    assert seqs[0] == seqs[1] == seqs[2] == seqs[3] - 1
    dst = alloc(dev, 64, sentinel=0)
    dma.recvchannel.transfer_many([(dst, 0, 32), (dst, 32, 32)])
    assert result(dma.sendchannel, seqs[3]) == (_uapi.ST_OK, 4)
    assert result(dma.sendchannel, seqs[0]) == (_uapi.ST_OK, 21)
    assert dma.recvchannel.wait(10) == 4
    want = np.concatenate([raw(buf)[0:8], raw(buf)[64:72], raw(buf)[128:133]])
    assert np.array_equal(raw(dst)[:21], want)
    assert np.array_equal(raw(dst)[32:36], raw(buf)[:4])
    free(buf, dst)


# -- short packets into receives split over descriptors ----------------------

@pytest.mark.parametrize("back_to_back", [False, True],
                         ids=["one-by-one", "back-to-back"])
def test_short_packet_in_a_split_receive(sg, back_to_back):
    """A 5-descriptor receive gets a shorter packet: its real length, and
    the next receive gets the next packet whole (the driver resyncs)."""
    dev, dma = sg
    span = 5 * DESC_MAX
    for short, following in [(2 * DESC_MAX + 100, 3 * DESC_MAX),
                             (DESC_MAX, 7),          # ends on a boundary
                             (7, 2 * DESC_MAX + 4),  # inside the first
                             (4 * DESC_MAX - 4, span)]:
        first_src = alloc(dev, short)
        next_src = alloc(dev, following)
        first = alloc(dev, span, sentinel=SENTINEL)
        second = alloc(dev, span, sentinel=SENTINEL)
        seq_a = dma.recvchannel.transfer(first)
        seq_b = dma.recvchannel.transfer(second)
        dma.sendchannel.transfer(first_src)
        if not back_to_back:
            assert result(dma.recvchannel, seq_a) == (_uapi.ST_OK, short)
        dma.sendchannel.transfer(next_src)
        dma.sendchannel.wait(30)
        assert dma.recvchannel.wait(30) == following
        assert result(dma.recvchannel, seq_a) == (_uapi.ST_OK, short)
        assert result(dma.recvchannel, seq_b) == (_uapi.ST_OK, following)
        assert np.array_equal(raw(first)[:short], raw(first_src)), short
        assert (raw(first)[short:] == SENTINEL).all(), short
        assert np.array_equal(raw(second)[:following], raw(next_src)), short
        assert (raw(second)[following:] == SENTINEL).all(), short
        free(first_src, next_src, first, second)
    assert dma.recvchannel.queued == 0
    works(dev, dma, 3 * DESC_MAX + 8)


# -- batches and ring wrap-around ---------------------------------------------

def _batch_layout(rng, count, low, high):
    lengths = [int(n) for n in rng.integers(low, high + 1, count)]
    offsets = np.cumsum([0] + [aligned(n) for n in lengths[:-1]])
    return lengths, [int(o) for o in offsets], \
        int(offsets[-1]) + aligned(lengths[-1])


def _run_batch(dev, dma, rng, count, low=64, high=4096):
    """``count`` loopbacks through transfer_many; every byte and count."""
    lengths, offsets, size = _batch_layout(rng, count, low, high)
    src = alloc(dev, size)
    dst = alloc(dev, size, sentinel=SENTINEL)
    recv = dma.recvchannel.transfer_many(
        [(dst, o, n) for o, n in zip(offsets, lengths)])
    send = dma.sendchannel.transfer_many(
        [(src, o, n) for o, n in zip(offsets, lengths)])
    assert len(recv) == len(send) == count
    assert dma.sendchannel.wait(60) == lengths[-1]
    assert dma.recvchannel.wait(60) == lengths[-1]
    for seq, n in zip(recv, lengths):
        assert result(dma.recvchannel, seq) == (_uapi.ST_OK, n)
    sent = np.zeros(size, bool)
    for o, n in zip(offsets, lengths):
        sent[o:o + n] = True
    assert np.array_equal(raw(dst)[sent], raw(src)[sent])
    assert (raw(dst)[~sent] == SENTINEL).all()      # the gaps: untouched
    free(src, dst)
    return sum(lengths)


class _Counter:
    """Counts pydmak.dma's ioctls, by request."""

    def __init__(self, monkeypatch):
        self.counts = {}
        real = dma_mod.ioctl

        def counting(fd, request, arg):
            self.counts[request] = self.counts.get(request, 0) + 1
            return real(fd, request, arg)

        monkeypatch.setattr(dma_mod, "ioctl", counting)


@pytest.mark.parametrize("count", [1, 10, 256, 1000])
def test_batches(any_ip, monkeypatch, count):
    index, dev, dma = any_ip
    rng = np.random.default_rng(count)
    calls = _Counter(monkeypatch)
    _run_batch(dev, dma, rng, count)
    submits = -(-count // _uapi.SUBMIT_MAX)
    assert calls.counts[_uapi.IOC_SUBMIT] == 2 * submits
    # One WAIT per channel, then one per result the test itself read.
    assert calls.counts[_uapi.IOC_WAIT] == 2 + count
    assert dma.sendchannel.queued == 0 and dma.recvchannel.queued == 0


def test_rings_wrap_many_times(sg):
    dev, dma = sg
    ring = dma.info.ring_size
    rng = np.random.default_rng(3)
    before = (dma.sendchannel.interrupts, dma.recvchannel.interrupts)
    rounds = 0
    for _ in range(3):                     # 3000 small loopbacks
        _run_batch(dev, dma, rng, 1000, 4, 2048)
        rounds += 1000
    # Transfers of 1 to 4 descriptors that straddle the wrap point.
    for _ in range(3):
        _run_batch(dev, dma, rng, 100, 1, 3 * DESC_MAX + 5)
        rounds += 100
    assert rounds > 10 * ring
    after = (dma.sendchannel.interrupts, dma.recvchannel.interrupts)
    assert after[0] > before[0] and after[1] > before[1]
    assert dma.sendchannel.queued == 0 and dma.recvchannel.queued == 0


def test_batch_of_gathers_and_singles(sg):
    """transfer_many with gathers, one of them where the 256 entries of the
    first request end (it must go whole into the second)."""
    dev, dma = sg
    rng = np.random.default_rng(11)
    items, views, bufs = [], [], []
    for i in range(300):
        if i in (10, 239, 299):        # item 239 is entries 250..261
            specs, pv, pb = pieces(dev, lengths_for(12, rng))
            items.append(specs)
            views.append(np.concatenate(pv))
            bufs += pb
        else:
            buf = alloc(dev, int(rng.integers(1, 3000)))
            items.append(buf)
            views.append(raw(buf))
            bufs.append(buf)
    sizes = [v.size for v in views]
    dst = alloc(dev, sum(aligned(n) for n in sizes), sentinel=0)
    offsets = np.cumsum([0] + [aligned(n) for n in sizes[:-1]])
    dma.recvchannel.transfer_many(
        [(dst, int(o), n) for o, n in zip(offsets, sizes)])
    seqs = dma.sendchannel.transfer_many(items)
    assert seqs == list(range(seqs[0], seqs[0] + 300))
    dma.sendchannel.wait(60)
    assert dma.recvchannel.wait(60) == sizes[-1]
    for o, v in zip(offsets, views):
        assert np.array_equal(raw(dst)[o:o + v.size], v)
    free(dst, *bufs)


# -- interrupt coalescing -----------------------------------------------------

def _proc_interrupts(name):
    """Interrupts of the lines named ``name``, summed over every CPU."""
    lines = pathlib.Path("/proc/interrupts").read_text().splitlines()
    ncpu = len(lines[0].split())
    total, found = 0, 0
    for line in lines[1:]:
        fields = line.split()
        if fields and fields[-1] == name:
            total += sum(int(f) for f in fields[1:1 + ncpu])
            found += 1
    assert found == 2, f"{found} lines named {name} in /proc/interrupts"
    return total


def test_coalescing_cuts_interrupts(sg):
    dev, dma = sg
    name = os.path.basename(os.path.realpath(SYSFS / f"dmak{SG}" / "device"))
    n, size = 256, 128
    unit_us = dma.info.delay_unit_ns / 1000
    srcs = alloc(dev, n * size)
    dsts = alloc(dev, n * size, sentinel=0)
    sim_set("fifo_depth", 1 << 20, SG)
    recv = dma.recvchannel
    try:
        recv.coalesce(16, delay_us=255 * unit_us)
        assert recv.coalescing == (16, pytest.approx(255 * unit_us))
        # Every packet waits in the FIFO first, so the receives then run
        # back to back: 256 completions, one interrupt per 16.
        dma.sendchannel.transfer_many(
            [(srcs, i * size, size) for i in range(n)])
        dma.sendchannel.wait(30)
        irqs, proc = recv.interrupts, _proc_interrupts(name)
        recv.transfer_many([(dsts, i * size, size) for i in range(n)])
        assert recv.wait(30) == size
        irqs, proc = recv.interrupts - irqs, _proc_interrupts(name) - proc
        assert np.array_equal(srcs, dsts)
        assert 1 <= irqs <= 17, irqs          # the driver's count
        assert 1 <= proc <= 17, proc          # the kernel's, both lines
    finally:
        recv.coalesce(1)
    assert recv.coalescing == (1, 0.0)
    free(srcs, dsts)


def test_delay_timer_on_a_slow_stream(sg):
    """Threshold 16, delay 50 µs, a stream at 1 MB/s: 8 packets of 8 KiB,
    8 ms apart, each get their own Dly_Irq: 8 interrupts, not one at the
    end. (A host stall the throttle makes up for may bunch a few.)"""
    dev, dma = sg
    n, size = 8, 8192
    srcs = alloc(dev, n * size)
    dsts = alloc(dev, n * size, sentinel=0)
    recv = dma.recvchannel
    try:
        recv.coalesce(16, delay_us=50)
        sim_set("bandwidth", 1_000_000, SG)
        irqs = recv.interrupts
        recv.transfer_many([(dsts, i * size, size) for i in range(n)])
        dma.sendchannel.transfer_many(
            [(srcs, i * size, size) for i in range(n)])
        assert recv.wait(10) == size
        dma.sendchannel.wait(10)
        irqs = recv.interrupts - irqs
        assert np.array_equal(srcs, dsts)
        assert 4 <= irqs <= n, irqs
    finally:
        sim_set("bandwidth", 0, SG)
        recv.coalesce(1)
    free(srcs, dsts)


def test_coalesce_arguments(sg):
    dev, dma = sg
    ch = dma.recvchannel
    unit = dma.info.delay_unit_ns
    most = 255 * unit / 1000
    for bad in (0, 256, -1):
        with pytest.raises(ValueError, match="1..255"):
            ch.coalesce(bad, 10)
    with pytest.raises(ValueError, match="needs a delay"):
        ch.coalesce(2)
    with pytest.raises(ValueError, match="needs a delay"):
        ch.coalesce(2, 0)
    with pytest.raises(ValueError, match=f"at most {most:g} µs"):
        ch.coalesce(4, most * 1.01 + 1)
    with pytest.raises(ValueError, match="negative"):
        ch.coalesce(4, -1)
    with pytest.raises(TypeError, match="threshold"):
        ch.coalesce(1.5, 10)
    assert ch.coalescing == (1, 0.0)             # nothing changed
    ch.coalesce(1, unit / 1000 / 10)             # rounds up to one unit
    assert ch.coalescing == (1, pytest.approx(unit / 1000))
    ch.coalesce(255, most)
    assert ch.coalescing == (255, pytest.approx(most))
    assert dma.sendchannel.coalescing == (1, 0.0)  # per channel
    ch.coalesce(1)
    # The kernel checks them too.
    for threshold, delay in ((0, 0), (256, 10), (2, 0), (1, 256)):
        op = _uapi.dmak_chan_op(channel=_uapi.S2MM, op=_uapi.OP_COALESCE,
                                irq_threshold=threshold, irq_delay=delay)
        assert _errno(lambda: ioctl(dev.fileno(), _uapi.IOC_CHAN_OP, op)) \
            == errno.EINVAL, (threshold, delay)
    assert ch.coalescing == (1, 0.0)
    works(dev, dma)


def test_coalesce_in_direct_mode_is_refused(direct):
    dev, dma = direct
    with pytest.raises(pydmak.DmakError, match="scatter-gather") as exc:
        dma.sendchannel.coalesce(1)
    assert exc.value.errno == errno.EOPNOTSUPP
    op = _uapi.dmak_chan_op(channel=_uapi.MM2S, op=_uapi.OP_COALESCE,
                            irq_threshold=1)
    assert _errno(lambda: ioctl(dev.fileno(), _uapi.IOC_CHAN_OP, op)) == \
        errno.EOPNOTSUPP
    before = dma.recvchannel.interrupts
    works(dev, dma)
    assert dma.recvchannel.interrupts == before + 1  # one per transfer


# -- faults ------------------------------------------------------------------

FAULTS = [("sg-decerr", "SGDecErr", SG_DEC_ERR, _uapi.ST_SG_DEC_ERR),
          ("sg-slverr", "SGSlvErr", SG_SLV_ERR, _uapi.ST_SG_SLV_ERR),
          ("sg-interr", "SGIntErr", SG_INT_ERR, _uapi.ST_SG_INT_ERR),
          ("decerr", "DMADecErr", DMA_DEC_ERR, _uapi.ST_DMA_DEC_ERR),
          ("slverr", "DMASlvErr", DMA_SLV_ERR, _uapi.ST_DMA_SLV_ERR),
          ("interr", "DMAIntErr", DMA_INT_ERR, _uapi.ST_DMA_INT_ERR)]
CASES = [(index, chan, *fault) for index in (SG, DIRECT)
         for chan in ("mm2s", "s2mm") for fault in FAULTS
         if index == SG or not fault[0].startswith("sg-")]


@pytest.mark.parametrize(
    "index,chan,fault,name,bit,status", CASES,
    ids=[f"{'sg' if c[0] else 'direct'}-{c[1]}-{c[2]}" for c in CASES])
def test_fault_is_named_the_rest_aborted_and_reset_recovers(
        index, chan, fault, name, bit, status):
    dev, dma = _open(index)
    try:
        srcs = [alloc(dev, 4096) for _ in range(3)]
        dsts = [alloc(dev, 4096, sentinel=0) for _ in range(3)]
        failing = dma.sendchannel if chan == "mm2s" else dma.recvchannel
        sim_fault(f"{chan} {fault}", index)
        recv = dma.recvchannel.transfer_many(dsts)
        send = dma.sendchannel.transfer_many(srcs)
        seqs = send if chan == "mm2s" else recv
        with pytest.raises(pydmak.DMAError) as exc:
            failing.wait(10)
        err = exc.value
        assert err.channel == chan.upper()
        assert name in err.reason and name in str(err)
        assert err.dmasr & bit and err.dmasr & ERR_IRQ, hex(err.dmasr)
        assert err.status == status
        assert result(failing, seqs[0])[0] == status
        assert [result(failing, s)[0] for s in seqs[1:]] == \
            [_uapi.ST_ABORTED] * 2
        assert failing.error and name in failing.error
        assert not failing.running
        with pytest.raises(pydmak.DMAError, match="halted"):
            failing.transfer(srcs[0] if chan == "mm2s" else dsts[0])
        failing.reset()
        assert failing.error is None
        assert dma.sendchannel.queued == 0 and dma.recvchannel.queued == 0
        works(dev, dma, 3 * DESC_MAX + 5 if index == SG else 5000)
        free(*srcs, *dsts)
    finally:
        _close(dev, dma, index)


def test_lost_interrupt_costs_a_delay_not_a_hang(sg):
    dev, dma = sg
    src, dst = alloc(dev, 40000), alloc(dev, 40000, sentinel=0)
    sim_fault("s2mm lost-irq", SG)
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src)
    assert dma.sendchannel.wait(10) == 40000
    start = time.monotonic()
    assert dma.recvchannel.wait() == 40000      # no limit, still returns
    assert time.monotonic() - start < 10
    assert np.array_equal(src, dst)
    free(src, dst)


# -- files closed with the ring in flight ------------------------------------

def _fill_the_ring(dev, dma, count=8, size=256 << 10):
    """Queues ``count`` loopbacks of ``size`` bytes (17 descriptors each);
    returns the buffers."""
    src = alloc(dev, count * size, cached=True)
    dst = alloc(dev, count * size, sentinel=0)
    dma.recvchannel.transfer_many(
        [(dst, i * size, size) for i in range(count)])
    dma.sendchannel.transfer_many(
        [(src, i * size, size) for i in range(count)])
    return src, dst


def test_close_with_the_ring_in_flight(sg):
    dev, dma = sg
    sim_set("bandwidth", 2_000_000, SG)        # 2 MiB take about a second
    other, other_dma = _open(SG)
    src, dst = _fill_the_ring(other, other_dma)
    assert wait_for(lambda d=dst: (d != 0).any(), 5)   # data is moving
    assert dma.recvchannel.queued >= 2
    other_dma.close()
    other.close()
    del src, dst
    gc.collect()
    assert wait_for(lambda: live_buffers(SG) == (0, 0))
    assert dma.sendchannel.queued == 0 and dma.recvchannel.queued == 0
    sim_set("bandwidth", 0, SG)
    works(dev, dma, 3 * DESC_MAX + 5)


def _queue_and_hang(conn):
    dev, dma = _open(SG)
    _src, _dst = _fill_the_ring(dev, dma)
    conn.send(dma.recvchannel.queued)
    time.sleep(120)                     # killed long before


def test_kill_9_with_the_ring_in_flight(sg):
    dev, dma = sg
    sim_set("bandwidth", 2_000_000, SG)
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_queue_and_hang, args=(child,))
    p.start()
    try:
        assert parent.poll(60), "the child died before queueing"
        assert parent.recv() >= 2
        assert live_buffers(SG)[0] >= 2
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.join(30)
    assert p.exitcode == -signal.SIGKILL
    assert wait_for(lambda: live_buffers(SG) == (0, 0))
    assert dma.sendchannel.queued == 0 and dma.recvchannel.queued == 0
    sim_set("bandwidth", 0, SG)
    works(dev, dma, 3 * DESC_MAX + 5)
