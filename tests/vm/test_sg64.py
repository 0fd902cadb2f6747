"""64-bit addressing: buffers, SG rings and transfers above 4 GiB.

The module reloads the simulator with four instances::

    instances=4 sg=0,1,0,1 addr_width=64,64,32,32 length_width=14

dmak0 (direct) and dmak1 (SG) have 64-bit DMA masks, dmak2 (direct) and
dmak3 (SG) 32-bit ones. On x86-64 a device with a 64-bit mask gets its
memory from ZONE_NORMAL, which lies above 4 GiB when the guest has enough
RAM: tests/vm/run gives it 6G by default, and QEMU maps all but the first
2G of that above 4 GiB. Without such memory the tests fail (never skip).

The kernel's regmap tracepoint (``regmap:regmap_reg_write``) shows every
register write the driver makes, so the tests check the MSB registers
directly: SA/DA_MSB in direct mode, CURDESC/TAILDESC_MSB in SG mode (the
ring itself lies above 4 GiB), and none at all on a 32-bit instance. The
descriptors' MSB words are proved by the data: the simulated engine moves
bytes to and from the full 64-bit address it reads from each descriptor.
"""

import pathlib
import re

import numpy as np
import pytest

import pydmak
from pydmak import _uapi
from conftest import (assert_buffers_returned, receive_range, sh,
                      with_modules)

DIRECT64, SG64, DIRECT32, SG32 = 0, 1, 2, 3
WIDE = [DIRECT64, SG64]
NARROW = [DIRECT32, SG32]
LENGTH_WIDTH = 14
DESC_MAX = ((1 << LENGTH_WIDTH) - 1) // 64 * 64          # 16320
FOUR_GIB = 1 << 32
RNG = np.random.default_rng(64)
SENTINEL = 0x5A
TRACING = pathlib.Path("/sys/kernel/tracing")

# Register offsets (PG021): the MM2S bank at 0x00, the S2MM bank at 0x30.
CURDESC, CURDESC_MSB, TAILDESC, TAILDESC_MSB = 0x08, 0x0C, 0x10, 0x14
ADDR, ADDR_MSB = 0x18, 0x1C                # MM2S_SA / S2MM_DA
MM2S, S2MM = 0x00, 0x30
MSB_REGS = {bank + off for bank in (MM2S, S2MM)
            for off in (CURDESC_MSB, TAILDESC_MSB, ADDR_MSB)}
DESC_REGS = {bank + off for bank in (MM2S, S2MM)
             for off in (CURDESC, TAILDESC)}

HOW = ("run the VM tier with more than ~3 GiB of guest memory "
       "(tests/vm/run --memory 6G, the default)")
NO_HIGH_MEMORY = ("the guest has no RAM above 4 GiB, so a 64-bit DMA mask "
                  "cannot be tested: " + HOW)


# -- set-up ------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def four_instances():
    """64-bit and 32-bit, direct and SG; the default load again afterwards."""
    yield from with_modules(["instances=4", "sg=0,1,0,1",
                             "addr_width=64,64,32,32",
                             f"length_width={LENGTH_WIDTH}"])


@pytest.fixture(autouse=True)
def no_leaked_buffers_anywhere(four_instances):
    """Every instance gets back all the buffer memory a test took."""
    yield
    assert_buffers_returned(DIRECT64, SG64, DIRECT32, SG32)


@pytest.fixture
def opened(request):
    """``(device, dma)`` of instance ``request.param``."""
    dev = pydmak.Device(request.param)
    dma = pydmak.DMA(dev)
    yield dev, dma
    if dma.sendchannel.error or dma.recvchannel.error:
        dma.sendchannel.reset()
    dma.close()
    dev.close()


def ram_above_4gib():
    """Bytes of guest RAM above 4 GiB, from /proc/iomem."""
    total = 0
    for line in pathlib.Path("/proc/iomem").read_text().splitlines():
        if line.startswith(" ") or not line.endswith(": System RAM"):
            continue
        start, end = (int(x, 16) for x in line.split(" : ")[0].split("-"))
        if end >= FOUR_GIB:
            total += end + 1 - max(start, FOUR_GIB)
    return total


class RegWrites:
    """Records the simulator's register writes through the kernel's
    ``regmap:regmap_reg_write`` tracepoint while active."""

    def __init__(self):
        self.lines = []

    def __enter__(self):
        if not (TRACING / "events").is_dir():
            sh("mount", "-t", "tracefs", "nodev", str(TRACING))
        self._enable = TRACING / "events/regmap/regmap_reg_write/enable"
        (TRACING / "trace").write_text("")            # clears the buffer
        self._enable.write_text("1")
        return self

    def __exit__(self, *exc):
        self._enable.write_text("0")
        self.lines = (TRACING / "trace").read_text().splitlines()
        (TRACING / "trace").write_text("")

    def of(self, index):
        """``[(reg, val)]`` written to instance ``index``, in order."""
        pattern = re.compile(rf"\bdmak-sim\.{index} reg=([0-9a-f]+) "
                             r"val=([0-9a-f]+)")
        return [(int(m.group(1), 16), int(m.group(2), 16))
                for m in map(pattern.search, self.lines) if m]


# -- helpers -----------------------------------------------------------------

def raw(buf):
    return buf.view(np.uint8).reshape(-1)


def alloc(dev, nbytes, cached=False, sentinel=None):
    buf = pydmak.allocate(nbytes, "u1", cacheable=cached, device=dev)
    if sentinel is None:
        raw(buf)[:] = RNG.integers(0, 256, nbytes, dtype=np.uint8)
    else:
        raw(buf)[:] = sentinel
    return buf


def free(*buffers):
    for b in buffers:
        b.freebuffer()


def above(buf):
    """Asserts the buffer lies above 4 GiB; returns its address."""
    addr = buf.physical_address
    assert addr >= FOUR_GIB, (
        f"a {buf.nbytes}-byte buffer of a 64-bit device is at {addr:#x}, "
        f"below 4 GiB ({ram_above_4gib() >> 20} MiB of guest RAM above "
        "4 GiB)" + ("" if ram_above_4gib() else ": " + NO_HIGH_MEMORY))
    return addr


def below(buf):
    addr = buf.physical_address
    assert addr + buf.nbytes <= FOUR_GIB, (
        f"a {buf.nbytes}-byte buffer of a 32-bit device is at {addr:#x}, "
        "not below 4 GiB")
    return addr


def loopback(dma, src, dst, nbytes, timeout=30):
    """One loopback of ``nbytes``; checks counts, bytes and the rest of
    ``dst`` (still SENTINEL)."""
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src, 0, nbytes)
    assert dma.sendchannel.wait(timeout) == nbytes
    assert dma.recvchannel.wait(timeout) == nbytes, nbytes
    assert np.array_equal(raw(dst)[:nbytes], raw(src)[:nbytes]), nbytes
    assert (raw(dst)[nbytes:] == SENTINEL).all(), nbytes


# -- the guest ---------------------------------------------------------------

def test_the_guest_has_memory_above_4gib():
    high = ram_above_4gib()
    assert high >= 1 << 30, (
        f"the guest has {high >> 20} MiB of RAM above 4 GiB, not the 1 GiB "
        "the 64-bit tests need: " + HOW)


def test_the_instances_are_what_the_module_asked_for():
    for index, sg, width in ((DIRECT64, False, 64), (SG64, True, 64),
                             (DIRECT32, False, 32), (SG32, True, 32)):
        with pydmak.Device(index) as dev:
            assert (dev.info.sg, dev.info.addr_width) == (sg, width), index


# -- buffers -----------------------------------------------------------------

@pytest.mark.parametrize("opened", WIDE, ids=["direct64", "sg64"],
                         indirect=True)
@pytest.mark.parametrize("cached", [False, True], ids=["coherent", "cached"])
def test_buffers_of_a_64bit_device_lie_above_4gib(opened, cached):
    assert ram_above_4gib(), NO_HIGH_MEMORY
    dev, _ = opened
    bufs = [alloc(dev, n, cached=cached) for n in (1, 4096, 100_000,
                                                   1 << 20, 4 << 20)]
    for buf in bufs:
        addr = above(buf)
        assert raw(buf)[-1:].physical_address == addr + buf.nbytes - 1
        buf.flush()
        buf.invalidate()                       # SYNC of a high buffer
    free(*bufs)


@pytest.mark.parametrize("opened", NARROW, ids=["direct32", "sg32"],
                         indirect=True)
@pytest.mark.parametrize("cached", [False, True], ids=["coherent", "cached"])
def test_buffers_of_a_32bit_device_lie_below_4gib(opened, cached):
    assert ram_above_4gib(), NO_HIGH_MEMORY    # or this would prove nothing
    dev, _ = opened
    bufs = [alloc(dev, n, cached=cached) for n in (1, 4096, 1 << 20, 4 << 20)]
    for buf in bufs:
        below(buf)
    free(*bufs)


# -- transfers ---------------------------------------------------------------

DIRECT_SIZES = [1, 3, 64, 4096, (1 << LENGTH_WIDTH) - 1]
SG_SIZES = [1, 3, 4096, DESC_MAX, DESC_MAX + 1, 3 * DESC_MAX + 5, 1 << 20]


@pytest.mark.parametrize("opened", [DIRECT64, SG64, DIRECT32, SG32],
                         ids=["direct64", "sg64", "direct32", "sg32"],
                         indirect=True)
@pytest.mark.parametrize("cached", [False, True], ids=["coherent", "cached"])
def test_loopback_every_size(opened, cached):
    dev, dma = opened
    wide = dev.info.addr_width == 64
    sizes = SG_SIZES if dev.info.sg else DIRECT_SIZES
    for nbytes in sizes:
        # Mixed kinds: a cached source with a coherent destination and
        # the other way round.
        src = alloc(dev, nbytes, cached=cached)
        dst = alloc(dev, min(nbytes + 64, dev.info.max_transfer),
                    cached=not cached, sentinel=SENTINEL)
        for buf in (src, dst):
            if wide:
                above(buf)
            else:
                below(buf)
        loopback(dma, src, dst, nbytes)
        free(src, dst)


def test_direct_mode_writes_the_address_msb_registers():
    """SA_MSB and DA_MSB carry the upper halves of high buffers."""
    with pydmak.Device(DIRECT64) as dev, pydmak.DMA(dev) as dma:
        src = alloc(dev, 5000)
        dst = alloc(dev, 5000, cached=True, sentinel=SENTINEL)
        with RegWrites() as regs:
            loopback(dma, src, dst, 5000)
        writes = regs.of(DIRECT64)

        def written(reg):
            return [v for r, v in writes if r == reg]

        sa, da = above(src), above(dst)
        assert written(MM2S + ADDR_MSB) == [sa >> 32], writes
        assert written(MM2S + ADDR) == [sa & 0xFFFFFFFF], writes
        assert written(S2MM + ADDR_MSB) == [da >> 32], writes
        assert written(S2MM + ADDR) == [da & 0xFFFFFFFF], writes
        free(src, dst)


def test_sg_ring_lies_above_4gib():
    """After a reset CURDESC is written again, MSB first; it and TAILDESC
    name descriptors above 4 GiB."""
    with pydmak.Device(SG64) as dev, pydmak.DMA(dev) as dma:
        src = alloc(dev, 3 * DESC_MAX + 5)
        dst = alloc(dev, 3 * DESC_MAX + 64, sentinel=SENTINEL)
        with RegWrites() as regs:
            dma.sendchannel.reset()           # CURDESC is written again
            loopback(dma, src, dst, 3 * DESC_MAX + 5)
        # Each LSB write (which acts) comes after its MSB write: pair it
        # with the MSB value written last before it.
        last_msb, named = {}, {}
        for reg, val in regs.of(SG64):
            if reg in MSB_REGS:
                last_msb[reg] = val
            elif reg in DESC_REGS:
                assert reg + 4 in last_msb, f"{reg:#x} before its MSB"
                named.setdefault(reg, []).append(last_msb[reg + 4] << 32
                                                 | val)
        for bank, chan in ((MM2S, "MM2S"), (S2MM, "S2MM")):
            for lsb, name in ((CURDESC, "CURDESC"), (TAILDESC, "TAILDESC")):
                descs = named.get(bank + lsb)
                assert descs, f"no {chan} {name} write"
                for desc in descs:
                    assert desc >= FOUR_GIB, (
                        f"{chan} {name} {desc:#x}: the ring is below 4 GiB")
                    assert desc % 64 == 0, f"{chan} {name} {desc:#x}"
        free(src, dst)


def test_32bit_instances_write_no_msb_register():
    for index in NARROW:
        with pydmak.Device(index) as dev, pydmak.DMA(dev) as dma:
            nbytes = 3 * DESC_MAX + 5 if dev.info.sg else 16000
            src = alloc(dev, nbytes)
            dst = alloc(dev, nbytes + 64, sentinel=SENTINEL)
            with RegWrites() as regs:
                if dev.info.sg:
                    dma.sendchannel.reset()   # CURDESC is written again
                loopback(dma, src, dst, nbytes)
            writes = regs.of(index)
            assert writes, index
            assert not [r for r, _ in writes if r in MSB_REGS], writes
            free(src, dst)


def test_sg64_batch_of_many_descriptors():
    """160 loopbacks of 1 to 3 descriptors each from one batch: more
    descriptors than the ring holds, all in high memory."""
    with pydmak.Device(SG64) as dev, pydmak.DMA(dev) as dma:
        rng = np.random.default_rng(7)
        lengths = [int(rng.integers(1, 3 * DESC_MAX)) if i % 5 == 4 else
                   int(rng.integers(1, 2000)) for i in range(160)]
        offsets = np.cumsum([0] + [-(-n // 4) * 4 for n in lengths[:-1]])
        size = int(offsets[-1]) + lengths[-1]
        src = alloc(dev, size, cached=True)
        dst = alloc(dev, size, sentinel=SENTINEL)
        above(src)
        above(dst)
        recv = dma.recvchannel.transfer_many(
            [(dst, int(o), n) for o, n in zip(offsets, lengths)])
        dma.sendchannel.transfer_many(
            [(src, int(o), n) for o, n in zip(offsets, lengths)])
        dma.sendchannel.wait(60)
        assert dma.recvchannel.wait(60) == lengths[-1]
        for seq, n in zip(recv, lengths):
            arg = dma.recvchannel._wait_once(seq, 10000)
            assert (arg.status, arg.bytes) == (_uapi.ST_OK, n)
        sent = np.zeros(dst.nbytes, bool)
        for o, n in zip(offsets, lengths):
            sent[o:o + n] = True
        assert np.array_equal(raw(dst)[sent], raw(src)[sent])
        assert (raw(dst)[~sent] == SENTINEL).all()
        free(src, dst)


def test_sg64_gather_and_scatter():
    """A packet gathered from coherent and cached pieces above 4 GiB (some
    of them longer than a descriptor), scattered over other pieces."""
    with pydmak.Device(SG64) as dev, pydmak.DMA(dev) as dma:
        lengths = [64, 2 * DESC_MAX + 12, 4, 1000, DESC_MAX, 333]
        bufs = [alloc(dev, n + 8, cached=bool(i % 2))
                for i, n in enumerate(lengths)]
        specs = [(b, 8, n) for b, n in zip(bufs, lengths)]
        want = np.concatenate([raw(b)[8:8 + n]
                               for b, n in zip(bufs, lengths)])
        total = want.size
        # Whole cache lines but the last, which has the rest of its buffer.
        step = max(4, dev.cache_alignment)
        parts = [total // 3 // step * step, total // 3 // step * step]
        parts.append(total - sum(parts))
        outs = [alloc(dev, n + 64, cached=not i % 2, sentinel=SENTINEL)
                for i, n in enumerate(parts)]
        for b in bufs + outs:
            above(b)
        dma.recvchannel.transfer([(o, 0, n) for o, n in zip(outs, parts)]
                                 [:-1] + [receive_range(outs[-1], parts[-1])])
        dma.sendchannel.transfer(specs)
        assert dma.sendchannel.wait(30) == total
        assert dma.recvchannel.wait(30) == total
        got = np.concatenate([raw(o)[:n] for o, n in zip(outs, parts)])
        assert np.array_equal(got, want)
        for o, n in zip(outs, parts):
            assert (raw(o)[n:] == SENTINEL).all()
        free(*bufs, *outs)

