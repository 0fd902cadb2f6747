"""Scatter-gather against direct mode, run in the VM on the simulated IP.

    tests/vm/run --sim-args "instances=2 sg=0,1" \\
        .venv/bin/python bench/sg_bench.py

dmak0 is a direct-mode instance and dmak1 an SG instance of the same
simulator, measured side by side in one run on buffers of the same sizes:
queued loopback batches (MB/s, interrupts per transfer, ioctls per
transfer) unthrottled and with the stream throttled to a line rate.
A benchmark, not a test: it prints figures and checks only the data.
"""

from __future__ import annotations

import pathlib
import resource
import sys
import time

import numpy as np

import pydmak
from pydmak import dma as _dma

LINE_RATE = 200_000_000  # bytes/s
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


def _run(dma, srcs, dsts, repeat=3):
    """Best time of ``repeat`` batches, with interrupts and ioctls of one."""
    best = float("inf")
    for _ in range(repeat):
        irq0 = dma.recvchannel.interrupts + dma.sendchannel.interrupts
        with IoctlCounter() as calls:
            start = time.perf_counter()
            _batch(dma, srcs, dsts)
            best = min(best, time.perf_counter() - start)
        irqs = (dma.recvchannel.interrupts + dma.sendchannel.interrupts
                - irq0)
    for s, d in zip(srcs, dsts):
        assert np.array_equal(s, d)
        d[:] = 0
    return best, irqs, calls.count


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


def compare(devs, dmas, size, count, bandwidth=0) -> None:
    label = f"{count} x {size >> 10} KiB queued loopback"
    if bandwidth:
        label += f", stream at {bandwidth / 1e6:.0f} MB/s"
    print(label + " (best of 3):")
    rates = {}
    for index, name, dev, dma in zip((0, 1), ("direct", "SG"), devs, dmas):
        (SIM / str(index) / "bandwidth").write_text(str(bandwidth))
        srcs, dsts = _buffers(dev, size, count)
        try:
            _batch(dma, srcs, dsts)                 # warm up
            t, irqs, calls = _run(dma, srcs, dsts)
        finally:
            (SIM / str(index) / "bandwidth").write_text("0")
            _free(srcs, dsts)
        rate = size * count / t
        rates[name] = rate
        extra = (f" = {rate / bandwidth:.2f} of line rate"
                 if bandwidth else "")
        print(f"  {name:6s} {rate / 1e6:8.1f} MB/s{extra}; "
              f"{irqs / (2 * count):.3f} interrupts and "
              f"{calls / (2 * count):.3f} ioctls per transfer")
    print(f"  SG / direct: {rates['SG'] / rates['direct']:.2f}x")


def _allow_files(count: int) -> None:
    """Lets the process hold ``count`` files: each mapped buffer holds one
    (Python's mmap keeps a duplicate of the device's descriptor), and a
    batch of 1000 loopbacks maps 2000 buffers, past the usual 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= count:
        return
    if hard != resource.RLIM_INFINITY and hard < count:
        hard = count                  # root (as in the VM) may raise it
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


def main() -> int:
    _allow_files(4096)
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
        sg.recvchannel.coalesce(16, 50)
        sg.sendchannel.coalesce(16, 50)
        print("SG coalescing: threshold 16, delay 50 µs")
        compare((d0, d1), (direct, sg), 64 << 10, 64)
        compare((d0, d1), (direct, sg), 4 << 10, 1000)
        compare((d0, d1), (direct, sg), 64 << 10, 64, LINE_RATE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
