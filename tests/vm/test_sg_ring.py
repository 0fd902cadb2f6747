"""A ring of 4 descriptors, wrapped thousands of times.

The module reloads the simulator with one SG instance (``instances=1 sg=1
length_width=14``, descriptors of at most 16320 bytes) and dmak.ko with
``ring_size=4``: every fourth descriptor wraps the ring, so a few thousand
small loopbacks wrap it over two thousand times per channel, and the driver
must keep loading the transfers queued behind a full ring from the
interrupts. Every byte and every count is checked.
"""


import numpy as np
import pytest

import pydmak
from pydmak import _uapi
from conftest import assert_buffers_returned, sysfs_attr, with_modules

RING = 4
LENGTH_WIDTH = 14
DESC_MAX = ((1 << LENGTH_WIDTH) - 1) // 64 * 64          # 16320
SENTINEL = 0xC3
BATCH = 1000            # results of the last 1024 transfers are kept


@pytest.fixture(scope="module", autouse=True)
def small_ring():
    """dmak0: an SG instance with a 4-descriptor ring; the default load
    again afterwards."""
    yield from with_modules(["instances=1", "sg=1",
                             f"length_width={LENGTH_WIDTH}"],
                            [f"ring_size={RING}"])


@pytest.fixture
def sg():
    dev = pydmak.Device(0)
    dma = pydmak.DMA(dev)
    yield dev, dma
    if dma.sendchannel.error or dma.recvchannel.error:
        dma.sendchannel.reset()
    dma.close()
    dev.close()
    assert_buffers_returned(0)


def raw(buf):
    return buf.view(np.uint8).reshape(-1)


def aligned(n):
    return -(-n // 4) * 4


def run_batch(dev, dma, rng, lengths):
    """Loops ``lengths`` back through one transfer_many per channel, each
    transfer at its own offset of one source and one destination buffer;
    checks every count and every byte, and that the gaps stay untouched.
    Where the device does not snoop the CPU caches, each receive into the
    cached destination takes whole cache lines, a line apart, and its
    packet ends short of them."""
    line = dev.cache_alignment
    rooms = [-(-n // line) * line for n in lengths]
    gap = max(4, line if line > 1 else 0)
    offsets = np.cumsum([0] + [aligned(r) + gap for r in rooms[:-1]])
    size = int(offsets[-1]) + aligned(rooms[-1])
    src = pydmak.allocate(size, "u1", device=dev)
    dst = pydmak.allocate(size, "u1", cacheable=True, device=dev)
    src[:] = rng.integers(0, 256, size, dtype=np.uint8)
    dst[:] = SENTINEL
    items = [(int(o), n) for o, n in zip(offsets, lengths)]
    recv = dma.recvchannel.transfer_many(
        [(dst, int(o), r) for o, r in zip(offsets, rooms)])
    send = dma.sendchannel.transfer_many([(src, o, n) for o, n in items])
    assert len(recv) == len(send) == len(lengths)
    assert dma.sendchannel.wait(60) == lengths[-1]
    assert dma.recvchannel.wait(60) == lengths[-1]
    for chan, seqs in ((dma.recvchannel, recv), (dma.sendchannel, send)):
        for seq, n in zip(seqs, lengths):
            arg = chan._wait_once(seq, 0)
            assert (arg.status, arg.bytes) == (_uapi.ST_OK, n), (chan, seq)
    sent = np.zeros(size, bool)
    for o, n in items:
        sent[o:o + n] = True
    assert np.array_equal(raw(dst)[sent], raw(src)[sent])
    assert (raw(dst)[~sent] == SENTINEL).all()
    src.freebuffer()
    dst.freebuffer()
    return sum(-(-n // DESC_MAX) for n in lengths)


def test_the_ring_has_four_descriptors(sg):
    dev, dma = sg
    assert dev.info.sg
    assert dev.info.ring_size == RING == int(sysfs_attr("ring_size"))
    assert dev.info.desc_max == DESC_MAX
    assert dev.info.max_transfer == RING * DESC_MAX
    assert f"ring_size={RING}" in repr(dma)


def test_thousands_of_small_transfers_wrap_the_ring(sg):
    dev, dma = sg
    rng = np.random.default_rng(4)
    irqs = (dma.sendchannel.interrupts, dma.recvchannel.interrupts)
    descriptors = 0
    for _ in range(9):
        lengths = [int(n) for n in rng.integers(64, 513, BATCH)]
        descriptors += run_batch(dev, dma, rng, lengths)
    assert descriptors == 9 * BATCH
    assert descriptors // RING >= 2000                  # wraps per channel
    # The ring never holds more than 4 transfers, so the driver loaded the
    # rest from the interrupts of those before them.
    for before, chan in zip(irqs, (dma.sendchannel, dma.recvchannel)):
        assert chan.interrupts - before >= descriptors // RING // 2, chan
    assert dma.sendchannel.queued == 0 and dma.recvchannel.queued == 0


def test_transfers_of_up_to_the_whole_ring_between_small_ones(sg):
    """Transfers of 1 to 4 descriptors: a 4-descriptor one waits for the
    ring to drain, the others straddle the wrap point wherever it lies."""
    dev, dma = sg
    rng = np.random.default_rng(44)
    lengths = []
    for i in range(120):
        if i % 3 == 2:
            ndesc = int(rng.integers(1, RING + 1))
            lengths.append(int(rng.integers((ndesc - 1) * DESC_MAX + 1,
                                            ndesc * DESC_MAX + 1)))
        else:
            lengths.append(int(rng.integers(1, 513)))
    lengths[60] = RING * DESC_MAX                        # the most
    want = sum(-(-n // DESC_MAX) for n in lengths)
    assert run_batch(dev, dma, rng, lengths) == want > len(lengths) + 40


def test_more_descriptors_than_the_ring_holds_are_refused(sg):
    dev, dma = sg
    buf = pydmak.allocate(RING * DESC_MAX + 64, "u1", device=dev)
    # One piece over 4 descriptors: more than one transfer can move.
    with pytest.raises(ValueError, match="more than one transfer can move"):
        dma.sendchannel.transfer(buf, 0, RING * DESC_MAX + 1)
    # A gather of 5 small pieces: 5 descriptors.
    pieces = [(buf, 64 * i, 64) for i in range(RING + 1)]
    with pytest.raises(ValueError, match=f"{RING + 1} descriptors"):
        dma.sendchannel.transfer(pieces)
    with pytest.raises(ValueError, match=f"{RING + 1} descriptors"):
        dma.recvchannel.transfer(pieces)
    # Within a batch: nothing of it is queued.
    with pytest.raises(ValueError, match=f"item 2: .*{RING + 1} descriptors"):
        dma.sendchannel.transfer_many([(buf, 0, 64), buf[:128], pieces])
    assert dma.sendchannel.queued == 0 and dma.recvchannel.queued == 0
    # Four pieces fit, and arrive as one packet.
    dst = pydmak.allocate(RING * 64, "u1", device=dev)
    buf[:] = np.arange(buf.nbytes) % 251
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(pieces[:RING])
    dma.sendchannel.wait(10)
    assert dma.recvchannel.wait(10) == RING * 64
    assert np.array_equal(dst, raw(buf)[:RING * 64])
    buf.freebuffer()
    dst.freebuffer()
