"""pydmak demo: ``python -m pydmak.demo [DEVICE]``.

Runs on every dmak device present (``pydmak.devices()``), or on DEVICE (a
name such as ``axi_dma_0``, a path or an index) when given. For each it
prints what the AXI DMA instance offers, allocates a coherent and a cached
buffer and reads back what it wrote, then streams data through an MM2S ->
S2MM loopback at several sizes, checks every byte and prints a table. On a scatter-gather instance it also
queues a batch of 256 transfers with one ``transfer_many()`` call and
gathers pieces of several buffers into one packet. ``make demo`` runs it in
a QEMU guest against two simulated IPs, one direct and one SG, whose
loopback is built in; on a board the FPGA design must loop the MM2S stream
back to S2MM.
"""

from __future__ import annotations

import sys
import time
from typing import List, Optional, Sequence, Union

import numpy as np

import pydmak


def _describe(dev: pydmak.Device) -> None:
    info = dev.info
    channels = [name for name, present in
                (("MM2S", info.mm2s), ("S2MM", info.s2mm)) if present]
    name = f" {dev.name}" if dev.name else ""
    print(f"{dev.path}:{name} AXI DMA, ABI {info.abi_version}")
    print(f"  channels      {', '.join(channels)}"
          f" ({'scatter-gather' if info.sg else 'direct'} mode)")
    print(f"  length reg    {info.length_width} bits "
          f"(max {info.max_transfer} bytes per transfer)")
    if info.sg:
        print(f"  SG ring       {info.ring_size} descriptors per channel "
              f"of up to {info.desc_max} bytes")
    print(f"  address       {info.addr_width} bits, data "
          f"{info.data_width} bits, alignment {info.alignment} B")
    print(f"  buffer quota  {info.buf_quota >> 20} MiB per user")


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
        print(f"  {kind:9s} {nbytes >> 10:6d} KiB at "
              f"{buf.physical_address:#012x}  write+read "
              f"{nbytes / elapsed / 1e6:8.1f} MB/s  "
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
    dma.close()
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
        print(f"  {_size_text(nbytes):>9}  {count:9d}  {rate:8.1f}  "
              f"{per:11.1f}  {'ok' if good else 'MISMATCH'}")
        ok = ok and good
    return ok


def _size_text(nbytes: int) -> str:
    if nbytes >= 1 << 20 and not nbytes % (1 << 20):
        return f"{nbytes >> 20} MiB"
    if nbytes >= 1024 and not nbytes % 1024:
        return f"{nbytes >> 10} KiB"
    return f"{nbytes} B"


def _batch(dev: pydmak.Device, count: int = 256, nbytes: int = 4096,
           seconds: float = 0.5):
    """Loops ``count`` transfers of ``nbytes`` as one ``transfer_many()``
    call per channel, again for about ``seconds``; checks every byte of
    every batch. Returns (batches, MB/s, microseconds per transfer, ok)."""
    size = count * nbytes
    with pydmak.DMA(dev) as dma, \
            pydmak.allocate(size, "u1", device=dev) as src, \
            pydmak.allocate(size, "u1", device=dev) as dst:
        rng = np.random.default_rng(count)
        sends = [(src, i * nbytes, nbytes) for i in range(count)]
        recvs = [(dst, i * nbytes, nbytes) for i in range(count)]
        batches, busy, ok = 0, 0.0, True
        while busy < seconds:
            src[:] = rng.integers(0, 256, size, dtype=np.uint8)
            dst[:] = 0
            start = time.perf_counter()
            dma.recvchannel.transfer_many(recvs)
            dma.sendchannel.transfer_many(sends)
            dma.sendchannel.wait(30)
            got = dma.recvchannel.wait(30)
            busy += time.perf_counter() - start
            batches += 1
            ok = ok and got == nbytes and bool(np.array_equal(src, dst))
    n = batches * count
    return batches, n * nbytes / busy / 1e6, busy / n * 1e6, ok


def _gather(dev: pydmak.Device) -> bool:
    """Gathers pieces of a coherent and a cached buffer into one packet,
    received into one buffer; checks it byte by byte."""
    rng = np.random.default_rng(7)
    align = dev.info.alignment
    with pydmak.DMA(dev) as dma, \
            pydmak.allocate(64 << 10, "u1", device=dev) as a, \
            pydmak.allocate(64 << 10, "u1", cacheable=True,
                            device=dev) as b:
        a[:] = rng.integers(0, 256, a.nbytes, dtype=np.uint8)
        b[:] = rng.integers(0, 256, b.nbytes, dtype=np.uint8)
        # (buffer, start, nbytes): every piece but the last a whole number
        # of beats long, as an IP without DRE needs.
        pieces = [(a, 0, 64), (b, 4096, 20000), (a, 1024, 4 * align),
                  (b, 128, 3000), (a, 40000, 333)]
        total = sum(n for _, _, n in pieces)
        want = np.concatenate([buf[s:s + n] for buf, s, n in pieces])
        with pydmak.allocate(total + 64, "u1", device=dev) as dst:
            dst[:] = 0xEE
            dma.recvchannel.transfer(dst)
            dma.sendchannel.transfer(pieces)
            dma.sendchannel.wait(30)
            got = dma.recvchannel.wait(30)
            ok = (got == total and bool(np.array_equal(dst[:total], want))
                  and bool((dst[total:] == 0xEE).all()))
    sizes = "+".join(str(n) for _, _, n in pieces)
    print(f"gather: {len(pieces)} pieces ({sizes} B) of a coherent and a "
          "cached buffer")
    print(f"  sent as one packet, received as one of {got} bytes: "
          f"{'every byte matches' if ok else 'MISMATCH'}")
    return ok


def _sg(dev: pydmak.Device) -> bool:
    count, nbytes = 256, 4096
    print(f"batch: {count} x {_size_text(nbytes)}, one transfer_many() call "
          "per channel (every byte checked):")
    batches, rate, per, ok = _batch(dev, count, nbytes)
    print(f"  {batches} batches ({batches * count} transfers): "
          f"{rate:.1f} MB/s, {per:.1f} us/transfer  "
          f"{'ok' if ok else 'MISMATCH'}")
    return _gather(dev) and ok


def _demo(dev: pydmak.Device) -> bool:
    _describe(dev)
    print("buffers (allocate, mmap, write, read back):")
    ok = all(_round_trip(dev, cacheable, 1 << 20)
             for cacheable in (False, True))
    if dev.info.mm2s and dev.info.s2mm:
        ok = _streaming(dev) and ok
        if dev.info.sg:
            ok = _sg(dev) and ok
    return ok


def run(targets: Optional[Sequence[Union[int, str]]] = None) -> int:
    """Runs the demo on each of ``targets`` (indexes or paths), or on every
    device when None; returns the exit status."""
    # With no device present, Device(None) says what is missing.
    todo: List[Union[int, str, pydmak.DeviceEntry, None]] = (
        list(targets) if targets else list(pydmak.devices()) or [None])
    results = []
    for i, target in enumerate(todo):
        if i:
            print()
        try:
            dev = pydmak.Device(target)
        except OSError as exc:
            print(f"pydmak demo: {exc.strerror or exc}", file=sys.stderr)
            return 1
        with dev:
            ok = _demo(dev)
            results.append((dev.path, ok))
    if len(results) > 1:
        print()
    failed = [path for path, ok in results if not ok]
    if failed:
        print(f"demo FAILED on {', '.join(failed)}: data did not arrive "
              "intact")
        return 1
    print("demo passed" + (f" on {len(results)} devices"
                           if len(results) > 1 else ""))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m pydmak.demo [DEVICE]``; returns the exit status."""
    from argparse import ArgumentTypeError

    from .cli.args import device_arg

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 1 or argv[:1] == ["-h"] or argv[:1] == ["--help"]:
        print("usage: python -m pydmak.demo [DEVICE]", file=sys.stderr)
        return 2
    try:
        targets = [device_arg(a) for a in argv]
    except ArgumentTypeError as exc:
        print(f"pydmak demo: {exc}", file=sys.stderr)
        return 2
    return run(targets)


if __name__ == "__main__":
    sys.exit(main())
