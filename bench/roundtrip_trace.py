"""Where one loopback round trip's time goes, from the dmak trace events.

    tests/vm/run .venv/bin/python bench/roundtrip_trace.py [INDEX] [BYTES]

Runs round trips of one send+receive on /dev/dmakINDEX (default 0, 512 B)
as the DMA benchmark does (submit S2MM, submit MM2S, wait MM2S, wait S2MM)
with the ``dmak`` and ``dmak_sim`` trace events and the program's
``sched_wakeup`` on (trace clock ``mono``), each round trip between two
``trace_marker`` lines, and prints when each event first happens in a
round trip (median, µs after the program starts it) and the time since
the event before:

    dmak_submit      the program's SUBMIT reached the queue
    dmak_start       the driver told the hardware (LENGTH / TAILDESC)
    dmak_sim_begin   the simulator's engine thread took the transfer up
    dmak_sim_raise   it moved the bytes and raises the interrupt line
    dmak_irq         dmak's handler runs
    dmak_complete    the transfer ended
    sched_wakeup     the waiting program is woken (when it had to sleep)
    end              both WAITs returned to the program

A benchmark, not a test: it prints figures and checks the data.
"""

from __future__ import annotations

import os
import pathlib
import re
import statistics
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np

import pydmak

TRACING = pathlib.Path("/sys/kernel/tracing")
EVENTS = ("dmak", "dmak_sim", "sched/sched_wakeup")
ROUNDS = 200
LINE = re.compile(r"^\s*(?P<task>.+?)-(?P<pid>\d+)\s+\[\d+\]\s+\S+\s+"
                  r"(?P<ts>\d+\.\d+): (?P<event>\w+): (?P<rest>.*)$")


def tracefs() -> pathlib.Path:
    """The tracefs mount, mounted if it is not yet."""
    if not (TRACING / "events").is_dir():
        subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACING)],
                       check=True)
    return TRACING


def _write(name: str, text: str) -> None:
    (TRACING / name).write_text(text)


def record(index: int, nbytes: int, rounds: int = ROUNDS) -> List[str]:
    """Runs ``rounds`` round trips traced; returns the trace lines."""
    tracefs()
    with pydmak.Device(index) as dev, pydmak.DMA(dev) as dma:
        src = pydmak.allocate(nbytes, "u1", device=dev)
        dst = pydmak.allocate(nbytes, "u1", device=dev)
        src[:] = np.arange(nbytes, dtype=np.uint64).astype(np.uint8)
        for _ in range(50):                         # warm up
            _round(dma, src, dst)
        _write("trace", "")
        _write("trace_clock", "mono")
        _write("buffer_size_kb", "8192")
        _write("events/sched/sched_wakeup/filter", f"pid == {os.getpid()}")
        for ev in EVENTS:
            _write(f"events/{ev}/enable", "1")
        marker = open(TRACING / "trace_marker", "w", buffering=1)
        try:
            for i in range(rounds):
                marker.write(f"rt begin {i}\n")
                _round(dma, src, dst)
                marker.write(f"rt end {i}\n")
        finally:
            marker.close()
            for ev in EVENTS:
                _write(f"events/{ev}/enable", "0")
            _write("events/sched/sched_wakeup/filter", "0")
        assert np.array_equal(src, dst)
        src.freebuffer()
        dst.freebuffer()
    lines = (TRACING / "trace").read_text().splitlines()
    _write("trace", "")
    return lines


def _round(dma, src, dst) -> None:
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src)
    dma.sendchannel.wait(10)
    dma.recvchannel.wait(10)


def _events(lines: List[str]) -> List[Tuple[float, str, str]]:
    out = []
    for line in lines:
        m = LINE.match(line)
        if m:
            out.append((float(m["ts"]), m["event"], m["rest"]))
    return out


def _key(event: str, rest: str) -> str:
    """An event and its channel: ``dmak_irq s2mm``."""
    chan = re.search(r"\b(mm2s|s2mm)\b", rest)
    return f"{event} {chan[1]}" if chan else event


def rounds(lines: List[str]) -> List[Dict[str, float]]:
    """For each traced round trip, when (µs after its start) each event
    first happened, by :func:`_key`; ``end`` is the program's next line."""
    out: List[Dict[str, float]] = []
    cur: Optional[Dict[str, float]] = None
    t0 = 0.0
    for ts, event, rest in _events(lines):
        if event == "tracing_mark_write" and "rt begin" in rest:
            cur, t0 = {}, ts
        elif event == "tracing_mark_write" and "rt end" in rest:
            if cur is not None:
                cur["end"] = (ts - t0) * 1e6
                out.append(cur)
            cur = None
        elif cur is not None:
            cur.setdefault(_key(event, rest), (ts - t0) * 1e6)
    return out


def report(index: int, nbytes: int) -> None:
    """Prints when each event happens in a round trip (median, µs) and the
    time since the event before it."""
    res = rounds(record(index, nbytes))
    keys = {k for r in res for k in r}
    med = {k: statistics.median(r[k] for r in res if k in r) for k in keys}
    print(f"round trip of {nbytes} B on /dev/dmak{index}: when each event "
          f"first happens (median of {len(res)}, µs after the program "
          "starts the round trip; +: since the event before)")
    prev = 0.0
    for k in sorted(keys, key=med.get):
        seen = sum(k in r for r in res)
        note = f"  (in {seen} of {len(res)})" if seen < len(res) else ""
        print(f"  {k:24s} {med[k]:8.1f}  +{med[k] - prev:7.1f}{note}")
        prev = med[k]


def main(argv: List[str]) -> int:
    index = int(argv[1]) if len(argv) > 1 else 0
    nbytes = int(argv[2]) if len(argv) > 2 else 512
    report(index, nbytes)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
