"""The trace events of dmak.ko and dmak_sim.ko, read back from tracefs.

The module reloads the simulator with ``instances=2 sg=0,1``: dmak0 is a
direct-mode IP, dmak1 an SG one. Each test turns the ``dmak`` and
``dmak_sim`` events on, runs real transfers and checks that every transfer
left submit → start → (engine) → irq → complete in that order with its seq,
bytes and status, and that an injected fault leaves an error event naming
its DMASR bit.
"""

from __future__ import annotations

import pathlib
import re
from typing import Dict, List

import numpy as np
import pytest

import pydmak
from conftest import sh, sim_fault

DIRECT, SG = 0, 1
TRACING = pathlib.Path("/sys/kernel/tracing")
IOC_IRQ, ERR_IRQ = 1 << 12, 1 << 14
DMA_SLV_ERR, DMA_DEC_ERR = 1 << 5, 1 << 6
LINE = re.compile(r"\s(?P<ts>\d+\.\d+): (?P<event>dmak\w*): "
                  r"(?P<dev>\S+) (?P<chan>mm2s|s2mm)\b(?P<rest>.*)$")


# dmak0 direct, dmak1 SG (conftest); every test gives dmak1's memory back.
pytestmark = pytest.mark.usefixtures("sg_buffers_returned")


class Trace:
    """The ``dmak`` and ``dmak_sim`` events emitted while active."""

    def __init__(self) -> None:
        self.events: List[Dict] = []

    def __enter__(self) -> "Trace":
        if not (TRACING / "events").is_dir():
            sh("mount", "-t", "tracefs", "nodev", str(TRACING))
        (TRACING / "trace_clock").write_text("mono")   # one clock, all CPUs
        (TRACING / "trace").write_text("")
        for system in ("dmak", "dmak_sim"):
            (TRACING / "events" / system / "enable").write_text("1")
        return self

    def __exit__(self, *exc) -> None:
        for system in ("dmak", "dmak_sim"):
            (TRACING / "events" / system / "enable").write_text("0")
        for line in (TRACING / "trace").read_text().splitlines():
            m = LINE.search(line)
            if not m:
                continue
            ev = {"event": m["event"], "dev": m["dev"], "chan": m["chan"],
                  "ts": float(m["ts"])}
            for key, value in re.findall(r"(\w+)=(\S+)", m["rest"]):
                ev[key] = int(value, 0) if re.fullmatch(
                    r"0x[0-9a-f]+|\d+", value) else value
            for word in ("LENGTH", "TAILDESC"):
                if word in m["rest"].split():
                    ev["reg"] = word
            self.events.append(ev)
        (TRACING / "trace").write_text("")

    def of(self, index: int, chan: str) -> List[Dict]:
        """Events of instance ``index``'s channel ``chan``, in order."""
        names = (f"pydmak-axi-dma.{index}", f"dmak-sim.{index}")
        return [e for e in self.events
                if e["dev"] in names and e["chan"] == chan]


def _index_of(events: List[Dict], event: str, **fields) -> int:
    """Position of the first ``event`` whose fields match."""
    for i, ev in enumerate(events):
        if ev["event"] == event and all(ev.get(k) == v
                                        for k, v in fields.items()):
            return i
    raise AssertionError(f"no {event} {fields} in {events}")


def _assert_life(events: List[Dict], seq: int, nbytes: int, sent: int,
                 reg: str, pieces: int = 1) -> Dict:
    """submit → start → engine → irq → complete of transfer ``seq``, in
    order; returns its complete event."""
    submit = _index_of(events, "dmak_submit", seq=seq, bytes=nbytes,
                       pieces=pieces)
    start = next(i for i, e in enumerate(events)
                 if e["event"] == "dmak_start" and i > submit
                 and e["seq"] <= seq <= e["last"])
    assert events[start]["reg"] == reg
    if reg == "LENGTH":
        assert events[start]["descs"] == 0
        assert events[start]["bytes"] == nbytes
    else:
        assert events[start]["descs"] >= 1
    engine = next(i for i, e in enumerate(events)
                  if e["event"] == "dmak_sim_begin" and i > start)
    irq = next(i for i, e in enumerate(events)
               if e["event"] == "dmak_irq" and i > engine)
    assert events[irq]["dmasr"] & IOC_IRQ
    done = _index_of(events, "dmak_complete", seq=seq)
    assert submit < start < engine < irq < done
    assert events[done]["bytes"] == sent
    assert events[done]["status"] == "OK"
    stamps = [events[i]["ts"] for i in (submit, start, engine, irq, done)]
    assert stamps == sorted(stamps)
    return events[done]


def _buffers(dev, *sizes):
    out = [pydmak.allocate(n, "u1", device=dev) for n in sizes]
    out[0][:] = np.arange(sizes[0], dtype=np.uint64).astype(np.uint8)
    return out


@pytest.mark.parametrize("index,reg", [(DIRECT, "LENGTH"),
                                       (SG, "TAILDESC")],
                         ids=["direct", "sg"])
def test_loopback_events_in_order(index, reg):
    with pydmak.Device(index) as dev, pydmak.DMA(dev) as dma:
        src, dst = _buffers(dev, 4096, 8192)      # a short packet comes in
        with Trace() as trace:
            rseq = dma.recvchannel.transfer(dst)
            sseq = dma.sendchannel.transfer(src)
            dma.sendchannel.wait(10)
            assert dma.recvchannel.wait(10) == 4096
        assert np.array_equal(dst[:4096], src)
        _assert_life(trace.of(index, "mm2s"), sseq, 4096, 4096, reg)
        _assert_life(trace.of(index, "s2mm"), rseq, 8192, 4096, reg)
        src.freebuffer()
        dst.freebuffer()


def test_sg_batch_and_gather_events():
    with pydmak.Device(SG) as dev, pydmak.DMA(dev) as dma:
        a, b, dst = _buffers(dev, 1024, 512, 1536)
        with Trace() as trace:
            dma.recvchannel.transfer(dst)
            seq = dma.sendchannel.transfer([a, b])     # one packet, 2 pieces
            seqs = dma.sendchannel.transfer_many([a, b, a])
            dma.recvchannel.transfer_many([dst, dst, dst])
            dma.sendchannel.wait(10)
            dma.recvchannel.wait(10)
        mm2s = trace.of(SG, "mm2s")
        _assert_life(mm2s, seq, 1536, 1536, "TAILDESC", pieces=2)
        for s, n in zip(seqs, (1024, 512, 1024)):
            _assert_life(mm2s, s, n, n, "TAILDESC")
        done = [e["seq"] for e in mm2s if e["event"] == "dmak_complete"]
        assert done == sorted(done) == [seq, *seqs]
        for buf in (a, b, dst):
            buf.freebuffer()


@pytest.mark.parametrize("index,fault,bit,status", [
    (DIRECT, "mm2s decerr", DMA_DEC_ERR, "DMA_DEC_ERR"),
    (SG, "mm2s slverr", DMA_SLV_ERR, "DMA_SLV_ERR"),
], ids=["direct", "sg"])
def test_fault_gives_error_event(index, fault, bit, status):
    with pydmak.Device(index) as dev, pydmak.DMA(dev) as dma:
        src, = _buffers(dev, 2048)
        sim_fault(fault, index)
        try:
            with Trace() as trace:
                seq = dma.sendchannel.transfer(src)
                with pytest.raises(pydmak.DMAError):
                    dma.sendchannel.wait(10)
        finally:
            sim_fault("clear", index)
            dma.sendchannel.reset()
        events = trace.of(index, "mm2s")
        err = _index_of(events, "dmak_error", seq=seq)
        assert events[err]["dmasr"] & bit and events[err]["dmasr"] & ERR_IRQ
        assert events[err]["status"] == status
        done = _index_of(events, "dmak_complete", seq=seq)
        assert err < done
        assert events[done]["status"] == status
        irq = _index_of(events, "dmak_irq")
        assert irq < err and events[irq]["dmasr"] & bit
        src.freebuffer()


def test_cyclic_slots_trace_start_and_completions():
    with pydmak.Device(SG) as dev, pydmak.DMA(dev) as dma:
        buf = pydmak.allocate((4, 256), dtype="u1", device=dev)
        src, = _buffers(dev, 256)
        with Trace() as trace:
            with dma.recvchannel.stream(buf, slots=4, timeout=10) as frames:
                for _ in range(6):
                    dma.sendchannel.transfer(src)
                    frame = next(frames)
                    assert np.array_equal(frame, src)
            dma.sendchannel.wait(10)
        s2mm = trace.of(SG, "s2mm")
        arm = _index_of(s2mm, "dmak_start", seq=1, last=4, descs=4)
        assert s2mm[arm]["bytes"] == 4 * 256
        done = [e for e in s2mm if e["event"] == "dmak_complete"]
        assert [e["seq"] for e in done][:6] == [1, 2, 3, 4, 5, 6]
        assert all(e["bytes"] == 256 and e["status"] == "OK"
                   for e in done[:6])
        # Handing a slot back tells the engine of it a lap on.
        released = [e for e in s2mm if e["event"] == "dmak_start"
                    and e is not s2mm[arm]]
        assert released and released[0]["seq"] == 5
        buf.freebuffer()
        src.freebuffer()
