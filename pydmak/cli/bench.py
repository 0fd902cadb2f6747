"""``pydmak bench``: loopback throughput and round-trip latency of one DMA.

The MM2S stream must come back on S2MM: the simulated IP loops it back
itself; on a board the FPGA design must. Throughput keeps ``--depth``
send+receive pairs queued for ``--time`` seconds per size; latency submits
one small pair and waits for it, again and again. The data of the last
round of each size, and of every round trip, is checked byte for byte.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

import numpy as np

from ..buffer import allocate
from ..dma import DMA
from .args import (add_device, add_json, positive_float, positive_int,
                   size_arg, sizes_arg)
from .errors import CommandError
from .output import print_json, print_table, size_text
from .progress import Progress

__all__ = ["add_parser", "latency", "run", "throughput"]

DEFAULT_SIZES = [4 << 10, 64 << 10, 1 << 20]

Tick = Callable[[float], None]


def add_parser(sub: "argparse._SubParsersAction") -> None:
    """Adds ``bench`` to the subcommands."""
    p = sub.add_parser(
        "bench", help="measure loopback throughput and latency",
        description="Loops data MM2S -> S2MM through one DMA: throughput "
        "over a few sizes, then the round-trip latency of one small "
        "transfer. Needs a stream looped back (the simulated IP does). "
        "A progress bar is drawn on stderr when it is a terminal.")
    add_device(p, "the first device")
    p.add_argument("--sizes", type=sizes_arg, metavar="LIST",
                   help="transfer sizes, e.g. 4K,64K,1M (default: those of "
                   "4K,64K,1M the device can move in one transfer)")
    p.add_argument("--time", type=positive_float, default=1.0, metavar="S",
                   help="seconds per size (default 1)")
    p.add_argument("--depth", type=positive_int, default=4, metavar="N",
                   help="transfers kept queued per channel (default 4)")
    p.add_argument("--round-trips", type=positive_int, default=1000,
                   metavar="N",
                   help="round trips timed for the latency (default 1000)")
    p.add_argument("--latency-size", type=size_arg, default=64,
                   metavar="SIZE", help="bytes per round trip (default 64)")
    add_json(p)
    p.set_defaults(func=run)


def _random_pair(dma: DMA, nbytes: int, seed: int):
    src = allocate(nbytes, "u1", device=dma.device)
    dst = allocate(nbytes, "u1", device=dma.device)
    src[:] = np.random.default_rng(seed).integers(0, 256, nbytes, np.uint8)
    return src, dst


def _round(dma: DMA, pairs) -> bool:
    """Queues every pair as one loopback each, waits; True if each
    receive got the whole packet."""
    for src, dst in pairs:
        dma.loopback(src, dst)
    dma.sendchannel.wait(60)
    return dma.recvchannel.wait(60) == pairs[-1][0].nbytes


def throughput(dma: DMA, nbytes: int, seconds: float, depth: int,
               tick: Tick = lambda frac: None) -> Dict[str, Any]:
    """Loops ``depth`` transfers of ``nbytes`` at a time for ``seconds``;
    then one more round into cleared buffers, checked byte for byte."""
    pairs = [_random_pair(dma, nbytes, i) for i in range(depth)]
    try:
        ok = _round(dma, pairs)                         # warm up
        count, start = 0, time.perf_counter()
        while True:
            ok = _round(dma, pairs) and ok
            count += depth
            elapsed = time.perf_counter() - start
            tick(min(elapsed / seconds, 1.0))
            if elapsed >= seconds:
                break
        for _, dst in pairs:
            dst[:] = 0
        ok = _round(dma, pairs) and ok
        ok = ok and all(np.array_equal(s, d) for s, d in pairs)
    finally:
        for buf in (b for pair in pairs for b in pair):
            buf.freebuffer()
    return {"bytes": nbytes, "transfers": count,
            "seconds": round(elapsed, 6),
            "mb_per_s": round(count * nbytes / elapsed / 1e6, 3),
            "us_per_transfer": round(elapsed / count * 1e6, 3), "ok": ok}


def latency(dma: DMA, nbytes: int, round_trips: int,
            tick: Tick = lambda frac: None) -> Dict[str, Any]:
    """Times ``round_trips`` loopbacks of ``nbytes``, each submitted then
    waited for; checks each one's data."""
    src, dst = _random_pair(dma, nbytes, 1)
    times: List[float] = []
    ok = True
    try:
        for i in range(round_trips):
            dst[0] = ~src[0]
            start = time.perf_counter()
            dma.loopback(src, dst)
            dma.sendchannel.wait(60)
            got = dma.recvchannel.wait(60)
            times.append(time.perf_counter() - start)
            ok = ok and got == nbytes and bool(dst[0] == src[0])
            tick((i + 1) / round_trips)
        ok = ok and bool(np.array_equal(src, dst))
    finally:
        src.freebuffer()
        dst.freebuffer()
    times.sort()
    us = [t * 1e6 for t in times]
    return {"bytes": nbytes, "round_trips": round_trips,
            "median_us": round(statistics.median(us), 3),
            "min_us": round(us[0], 3),
            "p99_us": round(us[min(len(us) - 1, int(len(us) * 0.99))], 3),
            "max_us": round(us[-1], 3), "ok": ok}


def _sizes(args: argparse.Namespace, dma: DMA) -> List[int]:
    limit = dma.info.max_transfer
    if args.sizes:
        over = [s for s in args.sizes if s > limit]
        if over:
            raise CommandError(f"{dma.device.path}: {size_text(over[0])} is "
                            f"more than one transfer may be ({limit} bytes)")
        return args.sizes
    fit = [s for s in DEFAULT_SIZES if s <= limit]
    return fit or [limit - limit % dma.info.alignment]


def run(args: argparse.Namespace) -> int:
    """Runs the benchmark; prints a table (or JSON). Returns the exit
    status: 1 when data did not arrive intact."""
    with DMA(args.device) as dma:
        if dma.sendchannel is None or dma.recvchannel is None:
            raise CommandError(f"{dma.device.path} does not have both an "
                            "MM2S and an S2MM channel to loop")
        sizes = _sizes(args, dma)
        if args.latency_size > dma.info.max_transfer:
            raise CommandError(f"{dma.device.path}: --latency-size is more "
                            "than one transfer may be")
        rows = []
        with Progress(len(sizes) + 1) as bar:
            for i, nbytes in enumerate(sizes):
                label = f"throughput {size_text(nbytes)}"
                rows.append(throughput(
                    dma, nbytes, args.time, args.depth,
                    lambda f, i=i, label=label: bar.update(i + f, label)))
            lat = latency(dma, args.latency_size, args.round_trips,
                          lambda f: bar.update(len(sizes) + f, "latency"))
        report = {"device": dma.device.path,
                  "mode": "sg" if dma.info.sg else "direct",
                  "depth": args.depth, "throughput": rows, "latency": lat,
                  "ok": lat["ok"] and all(r["ok"] for r in rows)}
    if args.json:
        print_json(report)
    else:
        _print(report)
    if not report["ok"]:
        print("pydmak bench: data did not arrive intact", file=sys.stderr)
        return 1
    return 0


def _print(report: Dict[str, Any]) -> None:
    print(f"{report['device']} ({report['mode']} mode): loopback MM2S -> "
          f"S2MM, {report['depth']} transfers queued")
    print_table(["SIZE", "TRANSFERS", "MB/s", "us/TRANSFER", "DATA"],
                [[size_text(r["bytes"]), r["transfers"],
                  f"{r['mb_per_s']:.1f}", f"{r['us_per_transfer']:.1f}",
                  "ok" if r["ok"] else "MISMATCH"]
                 for r in report["throughput"]], right=(0, 1, 2, 3))
    lat = report["latency"]
    print(f"round trip of one {size_text(lat['bytes'])} send+receive, "
          f"submitted then waited ({lat['round_trips']} times):")
    print_table(["MEDIAN us", "MIN us", "P99 us", "MAX us", "DATA"],
                [[f"{lat['median_us']:.1f}", f"{lat['min_us']:.1f}",
                  f"{lat['p99_us']:.1f}", f"{lat['max_us']:.1f}",
                  "ok" if lat["ok"] else "MISMATCH"]], right=(0, 1, 2, 3))
