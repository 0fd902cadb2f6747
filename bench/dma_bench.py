"""DMA benchmark, run in the VM against the simulated IP.

    tests/vm/run .venv/bin/python bench/dma_bench.py

Figures, measured in one run on the same buffers:
- loopback throughput beside the guest's memcpy (numpy.copyto);
- round-trip latency of one send+receive, submit then wait, 64 B .. 64 KiB,
  beside the guest's own wake-up round trip (two processes passing a byte
  back and forth over pipes, unpinned and pinned to two CPUs), so the
  figures compare across machines;
- with the simulated stream throttled to a line rate, the fraction of it
  that queued transfers and submit-then-wait transfers reach.
A benchmark, not a test: it prints figures and checks only the data.
"""

from __future__ import annotations

import os
import pathlib
import statistics
import sys
import time

import numpy as np

import pydmak

SIM = pathlib.Path("/sys/kernel/debug/dmak-sim/0")
LINE_RATE = 200_000_000  # bytes/s


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _loopback(dma, srcs, dsts, nbytes=0):
    for s, d in zip(srcs, dsts):
        dma.recvchannel.transfer(d)
        dma.sendchannel.transfer(s, 0, nbytes)
    dma.sendchannel.wait(60)
    dma.recvchannel.wait(60)


def throughput(dev, dma) -> None:
    # 16 MiB of buffers in all: larger working sets thrash QEMU TCG's
    # software TLB on the simulator's vCPU and measure QEMU, not the driver.
    size, depth = 1 << 20, 8
    srcs = [pydmak.allocate(size, "u1", device=dev) for _ in range(depth)]
    dsts = [pydmak.allocate(size, "u1", device=dev) for _ in range(depth)]
    for s in srcs:
        s[:] = np.random.default_rng(0).integers(0, 256, size, np.uint8)

    def copies():
        for s, d in zip(srcs, dsts):
            np.copyto(d, s)

    _loopback(dma, srcs, dsts)                  # warm up
    t_copy = _best(copies, 5)
    t_dma = _best(lambda: _loopback(dma, srcs, dsts), 5)
    assert all(np.array_equal(s, d) for s, d in zip(srcs, dsts))
    total = size * depth
    mem, lb = total / t_copy / 1e6, total / t_dma / 1e6
    print(f"throughput, {depth} x {size >> 20} MiB buffers (best of 5):")
    print(f"  guest memcpy (numpy.copyto)   {mem:9.1f} MB/s")
    print(f"  DMA loopback, {depth} queued       {lb:9.1f} MB/s"
          f"   = {lb / mem:.2f} x memcpy")
    for b in srcs + dsts:
        b.freebuffer()


def pipe_round_trip(rounds: int = 2000, cpus=None) -> float:
    """Median seconds for a byte to go to another process over a pipe and
    come back over another: two sleeps and two wake-ups, the least a
    submit-then-wait round trip through an interrupt can cost. ``cpus``
    ``(a, b)`` pins this process to CPU a and the echo process to CPU b,
    so every wake-up crosses CPUs, as the simulator's engine thread and
    the program waiting for it usually do."""
    from_parent, to_child = os.pipe()
    from_child, to_parent = os.pipe()
    mask = os.sched_getaffinity(0)
    pid = os.fork()
    if pid == 0:                                # the echo process
        os.close(to_child)
        os.close(from_child)
        if cpus:
            os.sched_setaffinity(0, {cpus[1]})
        while os.read(from_parent, 1):
            os.write(to_parent, b"x")
        os._exit(0)
    os.close(from_parent)
    os.close(to_parent)
    if cpus:
        os.sched_setaffinity(0, {cpus[0]})
    times = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            os.write(to_child, b"x")
            os.read(from_child, 1)
            times.append(time.perf_counter() - start)
    finally:
        os.sched_setaffinity(0, mask)
        os.close(to_child)
        os.close(from_child)
        os.waitpid(pid, 0)
    return statistics.median(times)


def latency(dev, dma) -> None:
    pipe = pipe_round_trip()
    cpus = sorted(os.sched_getaffinity(0))[:2]
    across = pipe_round_trip(cpus=cpus) if len(cpus) == 2 else pipe
    print("guest pipe round trip between two processes (median of 2000): "
          f"{pipe * 1e6:.1f} µs; pinned to two CPUs: {across * 1e6:.1f} µs")
    print("round trip of one send+receive, submit then wait "
          "(median of 200, µs), and its ratio to the pipe round trip "
          "(unpinned / across CPUs):")
    for size in (64, 512, 4096, 16384, 65536):
        src = pydmak.allocate(size, "u1", device=dev)
        dst = pydmak.allocate(size, "u1", device=dev)
        src[:] = 0x5A
        times = []
        for _ in range(200):
            start = time.perf_counter()
            _loopback(dma, [src], [dst])
            times.append(time.perf_counter() - start)
        assert np.array_equal(src, dst)
        rt = statistics.median(times)
        print(f"  {size:6d} B   {rt * 1e6:8.1f} µs   = {rt / pipe:5.2f} x"
              f" / {rt / across:5.2f} x pipe round trip")
        src.freebuffer()
        dst.freebuffer()


def line_rate(dev, dma) -> None:
    size, count = 65536, 64
    srcs = [pydmak.allocate(size, "u1", device=dev) for _ in range(count)]
    dsts = [pydmak.allocate(size, "u1", device=dev) for _ in range(count)]
    (SIM / "bandwidth").write_text(str(LINE_RATE))
    try:
        t_queued = _best(lambda: _loopback(dma, srcs, dsts), 3)

        def one_at_a_time():
            for s, d in zip(srcs, dsts):
                _loopback(dma, [s], [d])

        t_single = _best(one_at_a_time, 3)
    finally:
        (SIM / "bandwidth").write_text("0")
    total = size * count
    big_src = pydmak.allocate(4 << 20, "u1", device=dev)
    big_dst = pydmak.allocate(4 << 20, "u1", device=dev)
    (SIM / "bandwidth").write_text(str(LINE_RATE))
    try:
        t_big = _best(lambda: _loopback(dma, [big_src], [big_dst]), 3)
    finally:
        (SIM / "bandwidth").write_text("0")
    big_src.freebuffer()
    big_dst.freebuffer()
    print(f"stream throttled to {LINE_RATE / 1e6:.0f} MB/s, one 4 MiB "
          f"transfer: {(4 << 20) / t_big / 1e6:.1f} MB/s = "
          f"{(4 << 20) / t_big / LINE_RATE:.2f} of line rate")
    print(f"stream throttled to {LINE_RATE / 1e6:.0f} MB/s, "
          f"{count} x {size >> 10} KiB (best of 3):")
    for name, t in (("queued (all submitted, then wait)", t_queued),
                    ("submit-then-wait, one at a time", t_single)):
        rate = total / t
        print(f"  {name:36s} {rate / 1e6:7.1f} MB/s = "
              f"{rate / LINE_RATE:.2f} of line rate")
    for b in srcs + dsts:
        b.freebuffer()


def warm_up(dev, dma, seconds: float = 3.0) -> None:
    """Runs the loopback for a while first: a fresh TCG guest runs its
    first seconds of DMA up to ten times slower (translation caches)."""
    srcs = [pydmak.allocate(1 << 20, "u1", device=dev) for _ in range(4)]
    dsts = [pydmak.allocate(1 << 20, "u1", device=dev) for _ in range(4)]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        _loopback(dma, srcs, dsts)
    for b in srcs + dsts:
        b.freebuffer()


def main() -> int:
    with pydmak.Device(0) as dev, pydmak.DMA(dev) as dma:
        print(f"pydmak DMA benchmark on {dev.path} (simulated IP, QEMU TCG)")
        print("reproduce: tests/vm/run .venv/bin/python bench/dma_bench.py")
        warm_up(dev, dma)
        throughput(dev, dma)
        latency(dev, dma)
        line_rate(dev, dma)
    return 0


if __name__ == "__main__":
    sys.exit(main())
