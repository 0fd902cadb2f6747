"""pydmak demo: ``python -m pydmak.demo [DEVICE]``.

Opens a dmak device (the first one by default), prints what the AXI DMA
instance offers, allocates a coherent and a cached buffer and reads back
what it wrote, then streams data through an MM2S -> S2MM loopback at several
sizes, checks every byte and prints a table. ``make demo`` runs it in a QEMU
guest against the simulated IP, whose loopback is built in; on a board the
FPGA design must loop the MM2S stream back to S2MM.
"""

from __future__ import annotations

import sys
import time
from typing import List, Optional

import numpy as np

import pydmak


def _describe(dev: pydmak.Device) -> None:
    info = dev.info
    channels = [name for name, present in
                (("MM2S", info.mm2s), ("S2MM", info.s2mm)) if present]
    print(f"{dev.path}: AXI DMA, ABI {info.abi_version}")
    print(f"  channels      {', '.join(channels)}"
          f" ({'scatter-gather' if info.sg else 'direct'} mode)")
    print(f"  length reg    {info.length_width} bits "
          f"(max {info.max_transfer} bytes per transfer)")
    if info.sg:
        print(f"  SG ring       {info.ring_size} descriptors per channel "
              f"of up to {info.desc_max} bytes")
    print(f"  address       {info.addr_width} bits, data "
          f"{info.data_width} bits, alignment {info.alignment} B")
    print(f"  buffer quota  {info.buf_quota >> 20} MiB per open file")


def _round_trip(dev: pydmak.Device, cacheable: bool, nbytes: int) -> bool:
    kind = "cached" if cacheable else "coherent"
    words = nbytes // 4
    with pydmak.allocate(words, dtype="u4", cacheable=cacheable,
                         device=dev) as buf:
        pattern = (np.arange(words, dtype=np.uint32) * 2654435761) & 0xffffffff
        start = time.perf_counter()
        buf[:] = pattern
        buf.flush()
        buf.invalidate()
        ok = bool(np.array_equal(buf, pattern))
        elapsed = time.perf_counter() - start
        print(f"  {kind:9s} {nbytes >> 10:6d} KiB at {buf.physical_address:#012x}"
              f"  write+read {nbytes / elapsed / 1e6:8.1f} MB/s  "
              f"{'bytes match' if ok else 'MISMATCH'}")
        view = buf[words // 2:]
        print(f"            a view from word {words // 2} starts at "
              f"{view.physical_address:#012x}")
    return ok


def _stream(dev: pydmak.Device, nbytes: int, seconds: float = 0.5):
    """Loops buffers of ``nbytes`` through MM2S -> S2MM for about
    ``seconds``, queued four deep; checks every byte of the last round.
    Returns (transfers, MB/s, microseconds per transfer, all bytes ok)."""
    dma = pydmak.DMA(dev)
    rng = np.random.default_rng(nbytes)
    depth = 4
    srcs = [pydmak.allocate(nbytes, "u1", device=dev) for _ in range(depth)]
    dsts = [pydmak.allocate(nbytes, "u1", device=dev) for _ in range(depth)]
    for s in srcs:
        s[:] = rng.integers(0, 256, nbytes, dtype=np.uint8)
    count, ok = 0, True
    start = time.perf_counter()
    while True:
        for s, d in zip(srcs, dsts):
            dma.recvchannel.transfer(d)
            dma.sendchannel.transfer(s)
        dma.sendchannel.wait(30)
        got = dma.recvchannel.wait(30)
        count += depth
        ok = ok and got == nbytes
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    ok = ok and all(np.array_equal(s, d) for s, d in zip(srcs, dsts))
    for b in srcs + dsts:
        b.freebuffer()
    return count, count * nbytes / elapsed / 1e6, elapsed / count * 1e6, ok


def _streaming(dev: pydmak.Device) -> bool:
    print("loopback MM2S -> S2MM (four transfers queued, every byte checked):")
    print(f"  {'size':>9}  {'transfers':>9}  {'MB/s':>8}  {'us/transfer':>11}"
          "  bytes")
    ok = True
    for nbytes in (64, 4096, 65536, 1 << 20, 4 << 20):
        if nbytes > dev.info.max_transfer:
            continue
        count, rate, per, good = _stream(dev, nbytes)
        size = (f"{nbytes >> 20} MiB" if nbytes >= 1 << 20 else
                f"{nbytes >> 10} KiB" if nbytes >= 1024 else f"{nbytes} B")
        print(f"  {size:>9}  {count:9d}  {rate:8.1f}  {per:11.1f}  "
              f"{'ok' if good else 'MISMATCH'}")
        ok = ok and good
    return ok


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the demo; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        dev = pydmak.Device(argv[0] if argv else None)
    except OSError as exc:
        print(f"pydmak demo: {exc}", file=sys.stderr)
        return 1
    with dev:
        _describe(dev)
        print("buffers (allocate, mmap, write, read back):")
        ok = all(_round_trip(dev, cacheable, 1 << 20)
                 for cacheable in (False, True))
        if dev.info.mm2s and dev.info.s2mm:
            ok = _streaming(dev) and ok
    print("demo passed" if ok else "demo FAILED: data did not arrive intact")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
