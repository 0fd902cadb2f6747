"""Scatter-gather against direct mode, run in the VM on the simulated IP.

    tests/vm/run --sim-args "instances=2 sg=0,1" \\
        .venv/bin/python bench/sg_bench.py

dmak0 is a direct-mode instance and dmak1 an SG instance of the same
simulator, measured side by side in one run on buffers of the same sizes:
queued loopback batches (MB/s, interrupts per transfer, ioctls per
transfer) unthrottled and with the stream throttled to a line rate, then
a cyclic capture (``recvchannel.stream()``) of that throttled stream for
10 s: the fraction of line rate it keeps and its overruns.

The line rate is a quarter of the unthrottled SG loopback measured just
before (at most 200 MB/s), so that the stream, and not the emulated CPU,
is what limits the transfers, as on a board. A benchmark, not a test: it
prints figures and checks only the data.
"""

from __future__ import annotations

import pathlib
import resource
import sys
import threading
import time

import numpy as np

import pydmak
from dma_bench import warm_up
from pydmak import dma as _dma

LINE_RATE_MAX = 200_000_000  # bytes/s
CAPTURE_SECONDS = 10.0
SIM = pathlib.Path("/sys/kernel/debug/dmak-sim")


class IoctlCounter:
    """Counts the ioctls pydmak.dma makes while active."""

    def __init__(self) -> None:
        self.count = 0
        self._real = _dma.ioctl

    def __enter__(self) -> "IoctlCounter":
        def counting(fd, request, arg):
            self.count += 1
            return self._real(fd, request, arg)

        _dma.ioctl = counting
        return self

    def __exit__(self, *exc) -> None:
        _dma.ioctl = self._real


def _batch(dma, srcs, dsts) -> None:
    dma.recvchannel.transfer_many(dsts)
    dma.sendchannel.transfer_many(srcs)
    dma.sendchannel.wait(120)
    dma.recvchannel.wait(120)


def _once(dma, srcs, dsts):
    """Time, interrupts and ioctls of one batch; checks and clears the data."""
    irq0 = dma.recvchannel.interrupts + dma.sendchannel.interrupts
    with IoctlCounter() as calls:
        start = time.perf_counter()
        _batch(dma, srcs, dsts)
        elapsed = time.perf_counter() - start
    irqs = dma.recvchannel.interrupts + dma.sendchannel.interrupts - irq0
    for s, d in zip(srcs, dsts):
        assert np.array_equal(s, d)
        d[:] = 0
    return elapsed, irqs, calls.count


def _buffers(dev, size, count):
    rng = np.random.default_rng(size)
    srcs = [pydmak.allocate(size, "u1", device=dev) for _ in range(count)]
    dsts = [pydmak.allocate(size, "u1", device=dev) for _ in range(count)]
    for s in srcs:
        s[:] = rng.integers(0, 256, size, np.uint8)
    return srcs, dsts


def _free(*lists) -> None:
    for buffers in lists:
        for b in buffers:
            b.freebuffer()


def compare(devs, dmas, size, count, repeat=5) -> dict:
    """Unthrottled queued loopbacks, direct and SG taking turns (so a noisy
    moment of the host does not fall on one side only); best of
    ``repeat``. Prints the figures; returns the rates."""
    print(f"{count} x {size >> 10} KiB queued loopback (best of {repeat}, "
          "taking turns):")
    names = ("direct", "SG")
    bufs = [_buffers(dev, size, count) for dev in devs]
    best = {name: (float("inf"), 0, 0) for name in names}
    try:
        for dma, (srcs, dsts) in zip(dmas, bufs):
            _batch(dma, srcs, dsts)                 # warm up
        for _ in range(repeat):
            for name, dma, (srcs, dsts) in zip(names, dmas, bufs):
                best[name] = min(best[name], _once(dma, srcs, dsts))
    finally:
        for srcs, dsts in bufs:
            _free(srcs, dsts)
    rates = {}
    for name in names:
        t, irqs, calls = best[name]
        rates[name] = size * count / t
        print(f"  {name:6s} {rates[name] / 1e6:8.1f} MB/s; "
              f"{irqs / (2 * count):.3f} interrupts and "
              f"{calls / (2 * count):.3f} ioctls per transfer")
    print(f"  SG / direct: {rates['SG'] / rates['direct']:.2f}x")
    return rates


def kept_full(index, name, size, batch, bandwidth, seconds=3.0) -> float:
    """Loopbacks through instance ``index`` with its queues never empty:
    two open files take turns, each queueing a batch of ``batch`` while
    the other's runs, for ``seconds``. Prints and returns the rate."""
    files = []
    try:
        for _ in range(2):
            dev = pydmak.Device(index)
            dma = pydmak.DMA(dev)
            files.append((dev, dma, *_buffers(dev, size, batch)))
        for _, dma, srcs, dsts in files:
            _batch(dma, srcs, dsts)                 # warm up
        (SIM / str(index) / "bandwidth").write_text(str(bandwidth))
        irq0 = [dma.recvchannel.interrupts + dma.sendchannel.interrupts
                for _, dma, _, _ in files[:1]][0]
        batches = 0
        with IoctlCounter() as calls:
            start = time.perf_counter()
            for _, dma, srcs, dsts in files:
                dma.recvchannel.transfer_many(dsts)
                dma.sendchannel.transfer_many(srcs)
            busy = [True, True]
            while any(busy):
                for i, (_, dma, srcs, dsts) in enumerate(files):
                    if not busy[i]:
                        continue
                    dma.sendchannel.wait(120)
                    dma.recvchannel.wait(120)
                    batches += 1
                    busy[i] = time.perf_counter() - start < seconds
                    if busy[i]:
                        dma.recvchannel.transfer_many(dsts)
                        dma.sendchannel.transfer_many(srcs)
            elapsed = time.perf_counter() - start
        irqs = (files[0][1].recvchannel.interrupts
                + files[0][1].sendchannel.interrupts - irq0)
    finally:
        (SIM / str(index) / "bandwidth").write_text("0")
        for dev, dma, srcs, dsts in files:
            _free(srcs, dsts)
            dma.close()
            dev.close()
    count = batches * batch
    rate = size * count / elapsed
    print(f"  {name:6s} {rate / 1e6:8.1f} MB/s = {rate / bandwidth:.2f} of "
          f"line rate; {irqs / (2 * count):.3f} interrupts and "
          f"{calls.count / (2 * count):.3f} ioctls per transfer")
    return rate


class _Feeder(threading.Thread):
    """Keeps MM2S of its own file fed with ``batch`` packets of ``size``
    bytes at a time until ``stop()``, so the stream never pauses. Small
    batches: planning one holds the GIL, which the consumer needs too."""

    def __init__(self, index: int, size: int, bandwidth: int,
                 batch: int = 16) -> None:
        super().__init__(daemon=True)
        self.nap = min(0.005, batch * size / bandwidth / 4)
        self.dev = pydmak.Device(index)
        self.dma = pydmak.DMA(self.dev)
        self.src = pydmak.allocate((batch, size), "u1", device=self.dev)
        self.src[:] = np.arange(size, dtype=np.uint32).astype(np.uint8)
        self.sent = 0
        self.final = threading.Event()     # no more after ``sent``
        self.error = None
        self._halt = threading.Event()

    def run(self) -> None:
        rows = [self.src[i] for i in range(self.src.shape[0])]
        try:
            while not self._halt.is_set():
                if self.dma.sendchannel.queued <= len(rows):
                    self.dma.sendchannel.transfer_many(rows)
                    self.sent += len(rows)
                else:
                    time.sleep(self.nap)
            self.final.set()
            self.dma.sendchannel.wait(60)
        except BaseException as exc:    # re-raised by close()
            self.error = exc
        finally:
            self.final.set()

    def stop(self) -> None:
        self._halt.set()

    def close(self) -> None:
        self.join(60)
        self.src.freebuffer()
        self.dma.close()
        self.dev.close()
        if self.error:
            raise self.error


def cyclic(dev, dma, index, bandwidth, size=128 << 10, slots=16) -> None:
    """A stream at ``bandwidth`` captured for CAPTURE_SECONDS into
    ``slots`` slots by a consumer that keeps up (it only checks sizes)."""
    print(f"cyclic capture of a stream at {bandwidth / 1e6:.0f} MB/s, "
          f"{size >> 10} KiB packets into {slots} slots, "
          f"{CAPTURE_SECONDS:.0f} s:")
    buf = pydmak.allocate((slots, size), "u1", device=dev)
    (SIM / str(index) / "bandwidth").write_text(str(bandwidth))
    feeder = _Feeder(index, size, bandwidth)
    received = 0
    irq0 = dma.recvchannel.interrupts
    try:
        with dma.recvchannel.stream(buf, slots, timeout=10) as frames:
            feeder.start()
            first = last = None
            for frame in frames:
                last = time.perf_counter()
                if first is None:
                    first, t_end = last, last + CAPTURE_SECONDS
                    feeder_stopped = False
                else:
                    received += 1           # bytes after the first slot
                assert frame.nbytes == size and frame.sof and frame.eof
                if not feeder_stopped and last >= t_end:
                    feeder.stop()
                    feeder_stopped = True
                if feeder.final.is_set() and frame.seq >= feeder.sent:
                    break
            overruns, filled = frames.overruns, frames.filled
    finally:
        feeder.stop()
        (SIM / str(index) / "bandwidth").write_text("0")
        feeder.close()
    del frame
    buf.freebuffer()
    rate = received * size / (last - first)
    irqs = dma.recvchannel.interrupts - irq0
    print(f"  {filled} slots, {rate / 1e6:.1f} MB/s = "
          f"{rate / bandwidth:.2f} of line rate; {overruns} overruns; "
          f"{irqs / filled:.3f} interrupts per slot")


def _allow_files(count: int) -> None:
    """Lets the process hold ``count`` files: each mapped buffer holds one
    (Python's mmap keeps a duplicate of the device's descriptor), and a
    batch of 1000 loopbacks on each of two devices maps 4000 buffers,
    past the usual 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= count:
        return
    if hard != resource.RLIM_INFINITY and hard < count:
        hard = count                  # root (as in the VM) may raise it
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


def main() -> int:
    _allow_files(8192)
    with pydmak.Device(0) as d0, pydmak.Device(1) as d1, \
            pydmak.DMA(d0) as direct, pydmak.DMA(d1) as sg:
        if d0.info.sg or not d1.info.sg:
            print("needs dmak0 direct and dmak1 SG: "
                  "--sim-args 'instances=2 sg=0,1'", file=sys.stderr)
            return 2
        print("pydmak SG benchmark (simulated IP, QEMU TCG): "
              f"ring of {d1.info.ring_size} descriptors")
        print('reproduce: tests/vm/run --sim-args "instances=2 sg=0,1" '
              ".venv/bin/python bench/sg_bench.py")
        warm_up(d0, direct)
        warm_up(d1, sg)
        sg.recvchannel.coalesce(16, 50)
        sg.sendchannel.coalesce(16, 50)
        print("SG coalescing: threshold 16, delay 50 µs")
        raw = compare((d0, d1), (direct, sg), 64 << 10, 64)["SG"]
        compare((d0, d1), (direct, sg), 4 << 10, 1000)
        line = min(LINE_RATE_MAX, int(raw / 4 / 5e6) * 5_000_000)
        line = max(line, 5_000_000)
        print(f"line rate: {line / 1e6:.0f} MB/s, a quarter of the "
              "unthrottled SG loopback above (at most 200 MB/s)")
        print(f"64 KiB loopbacks for 3 s, stream at {line / 1e6:.0f} MB/s, "
              "queues kept full (two files take turns queueing batches "
              "of 64):")
        rates = [kept_full(i, name, 64 << 10, 64, line)
                 for i, name in ((0, "direct"), (1, "SG"))]
        print(f"  SG / direct: {rates[1] / rates[0]:.2f}x")
        gap_us = (64 << 10) / line * 1e6
        if gap_us > 50:
            print(f"  (packets end {gap_us:.0f} µs apart, more than the "
                  "50 µs delay, so each gets its own Dly_Irq; IRQDelay "
                  "reaches 319 µs at most)")
        cyclic(d1, sg, 1, line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
