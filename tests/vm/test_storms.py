"""Storms: many processes on one device while others are killed mid-transfer;
load cycles of both modules with transfers in flight; the simulated IP
removed under running transfers.

Every packet carries its sender and number in a header, and its bytes
follow from them, so a receiver checks every byte of whatever packet it
got. A killed process's close resets the core while its transfer runs:
the transfers of others then running end with DMAK_ST_RESET and the
stream's content is lost. After a loss, a receive may take another
process's packet (the queues stay in order, the pairs no longer line up),
and the last receives may find no packet at all ("starved"); both are
counted. What must never happen: a packet received wrong, twice, or cut;
a wait that does not end; memory, buffers or minors that do not come back.
"""

import gc
import multiprocessing
import os
import random
import signal
import time

import numpy as np
import pytest

import pydmak
from pydmak import _uapi
from conftest import (REPO, SYSFS, assert_buffers_returned,
                      close_default_device, live_buffers,
                      mem_available, sh, sim_set, wait_for)

CHECKERS = 8
TRANSFERS = 1000
MAGIC = 0x6B6D6400              # "\0dmk"
HEADER = 16                     # magic, sender, number, length: four u32
MAX_PACKET = 64 << 10           # a checker's packets
ROOM = 1 << 20                  # every receive; a victim's longest packet
SENTINEL = 0xA5
STARVED_S = 5.0                 # a receive waiting this long may be starved
STUCK_S = 120.0                 # no wait may last this long
BANDWIDTH = 100_000_000         # bytes/s: a victim's packet takes ~5 ms
SIM_ARGS = ["instances=2", "sg=0,1"]     # as direct_and_sg loads them

_MP = multiprocessing.get_context("fork")


def packet(sender, number, length):
    """The bytes of packet ``number`` of ``sender``, ``length`` long: the
    header, then bytes that follow from the sender and their position."""
    data = _body(sender, length).copy()
    data[:HEADER] = header(sender, number, length)
    return data


def header(sender, number, length):
    """The first HEADER bytes of a packet."""
    return np.array([MAGIC, sender, number, length], "<u4").view(np.uint8)


def _body(sender, length):
    pos = np.arange(length, dtype=np.uint32)
    return (((pos * 2654435761 + sender * 40503) >> 11) & 0xFF).astype(
        np.uint8)


def read_packet(data, nbytes):
    """(sender, number) of the packet in ``data[:nbytes]``; AssertionError
    saying what is wrong unless every byte is as its sender made it."""
    assert nbytes >= HEADER, f"{nbytes} bytes: shorter than a header"
    magic, sender, number, length = data[:HEADER].view("<u4").tolist()
    assert magic == MAGIC, f"no packet header: {magic:#x}"
    assert length == nbytes, \
        f"packet {sender}/{number} of {length} bytes arrived as {nbytes}"
    bad = np.flatnonzero(data[HEADER:nbytes] !=
                         _body(sender, length)[HEADER:]) + HEADER
    assert not bad.size, (f"packet {sender}/{number}: {bad.size} bytes "
                          f"wrong, the first at {bad[0]}")
    return sender, number


def _receive(dma, busy):
    """Waits for the receive queued last: its byte count, or None if it
    was starved. While another checker is busy, a packet may still come;
    once none is, the receive is cancelled."""
    waited = 0.0
    counted = True
    try:
        while True:
            try:
                return dma.recvchannel.wait(STARVED_S)
            except pydmak.DMATimeoutError:
                waited += STARVED_S
                if waited >= STUCK_S:
                    raise
            if counted:
                with busy.get_lock():
                    busy.value -= 1
                counted = False
            if busy.value == 0:
                dma.recvchannel.cancel()
                return None
    finally:
        if not counted:
            with busy.get_lock():
                busy.value += 1


def _checker(index, sender, seed, busy, conn):
    """TRANSFERS loopbacks on /dev/dmak<index>, every byte checked."""
    rng = random.Random(seed)
    stats = {"ok": 0, "reset": 0, "starved": 0, "foreign": 0, "got": [],
             "error": None}
    try:
        with pydmak.Device(index) as dev, pydmak.DMA(dev) as dma:
            src = pydmak.allocate(MAX_PACKET, "u1", device=dev,
                                  cacheable=bool(sender % 2))
            dst = pydmak.allocate(ROOM, "u1", device=dev,
                                  cacheable=not sender % 2)
            dst[:] = SENTINEL
            for number in range(TRANSFERS):
                length = rng.choice((HEADER, MAX_PACKET,
                                     rng.randint(HEADER, MAX_PACKET)))
                src[:length] = packet(sender, number, length)
                dma.loopback(src, dst, length)
                try:
                    dma.sendchannel.wait(STUCK_S)
                except pydmak.DMAError as exc:
                    assert exc.status == _uapi.ST_RESET, str(exc)
                try:
                    nbytes = _receive(dma, busy)
                except pydmak.DMAError as exc:
                    assert exc.status == _uapi.ST_RESET, str(exc)
                    stats["reset"] += 1
                    dst[:] = SENTINEL
                    continue
                if nbytes is None:
                    stats["starved"] += 1
                    continue
                got = read_packet(dst, nbytes)
                assert (dst[nbytes:nbytes + 64] == SENTINEL).all(), \
                    f"bytes written past the packet {got}"
                dst[:nbytes] = SENTINEL
                stats["ok"] += 1
                stats["foreign"] += got != (sender, number)
                stats["got"].append(got)
            src.freebuffer()
            dst.freebuffer()
    except BaseException as exc:        # reported, not lost with the child
        stats["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        with busy.get_lock():
            busy.value -= 1
    conn.send(stats)


def _victim(index, sender, seed, sent):
    """Transfers of up to ROOM bytes until killed: loopbacks, or a receive
    and a send queued apart, or sends alone, whose packets others take."""
    rng = random.Random(seed)
    dev = pydmak.Device(index)
    dma = pydmak.DMA(dev)
    src = pydmak.allocate(ROOM, "u1", device=dev, cacheable=bool(seed % 2))
    dst = pydmak.allocate(ROOM, "u1", device=dev)
    mode = seed % 3
    src[:] = _body(sender, ROOM)
    for number in range(1 << 30):
        length = rng.randint(HEADER, ROOM)
        src[:HEADER] = header(sender, number, length)
        if mode == 0:
            dma.loopback(src, dst, length)
        elif mode == 1:
            dma.recvchannel.transfer(dst)
            dma.sendchannel.transfer(src, 0, length)
        else:
            dma.sendchannel.transfer(src, 0, length)
        sent.value += 1                 # the only writer while it lives
        try:
            dma.sendchannel.wait(STUCK_S)
            if mode != 2:
                dma.recvchannel.wait(STUCK_S)
        except pydmak.DmakError:
            pass


def _settled_memory(before, slack=64 << 20):
    """MemAvailable is back within ``slack`` of ``before``: it moves with
    page cache and slab caches, which a hundred processes come and gone
    leave behind; a leak of the buffers would be hundreds of MiB. (Not
    CmaFree: movable pages of any process may take CMA pages while they
    are free.) Freed pages take a moment to reach the counters."""
    deadline = time.monotonic() + 10
    while before - mem_available() >= slack and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.2)
    lost = before - mem_available()
    print(f"MemAvailable {lost / 2**20:+.1f} MiB less")
    assert lost < slack, f"{lost >> 20} MiB of memory did not come back"


def _loopback_check(index):
    """The device still moves a packet right."""
    with pydmak.Device(index) as dev, pydmak.DMA(dev) as dma:
        src = pydmak.allocate(100_000, "u1", device=dev)
        dst = pydmak.allocate(100_000, "u1", device=dev)
        src[:] = packet(7, 7, 100_000)
        dma.loopback(src, dst)
        dma.sendchannel.wait(10)
        assert dma.recvchannel.wait(10) == 100_000
        assert read_packet(dst, 100_000) == (7, 7)
        src.freebuffer()
        dst.freebuffer()


@pytest.mark.parametrize("index", [0, 1], ids=["direct", "sg"])
def test_kill_storm(direct_and_sg, index):
    """CHECKERS processes of TRANSFERS loopbacks each while others, making
    long transfers, are killed with SIGKILL one after the other, each
    within 30 ms of its first transfer."""
    close_default_device()
    gc.collect()
    before = mem_available()
    sim_set("bandwidth", BANDWIDTH, index)
    busy = _MP.Value("i", CHECKERS)
    # Packets the victims queued, one victim at a time. Without a lock: a
    # victim killed while it held one would leave it held for good, and
    # this process waiting on it.
    sent = _MP.RawValue("i", 0)
    checkers = []
    for sender in range(CHECKERS):
        mine, theirs = _MP.Pipe(duplex=False)
        proc = _MP.Process(target=_checker,
                           args=(index, sender, 1000 * index + sender, busy,
                                 theirs))
        proc.start()
        theirs.close()
        checkers.append((proc, mine))
    rng = random.Random(index)
    kills = 0
    deadline = time.monotonic() + 1800
    try:
        while any(p.is_alive() for p, _ in checkers):
            assert time.monotonic() < deadline, "the checkers did not end"
            victim = _MP.Process(target=_victim,
                                 args=(index, 100 + kills, kills, sent))
            before = sent.value
            victim.start()
            # A forked child of this big process takes a while to start
            # (copy on write, emulated): kill it once it transfers.
            assert wait_for(lambda: sent.value > before or
                            not victim.is_alive(), 30), "a victim hung"
            time.sleep(rng.uniform(0.0, 0.03))
            os.kill(victim.pid, signal.SIGKILL)
            victim.join(30)
            assert victim.exitcode == -signal.SIGKILL, victim.exitcode
            kills += 1
        stats = [conn.recv() for _, conn in checkers]
    finally:
        sim_set("bandwidth", 0, index)
        for proc, _ in checkers:
            proc.join(30)
    errors = [s["error"] for s in stats if s["error"]]
    assert not errors, errors
    got = [g for s in stats for g in s["got"]]
    dup = len(got) - len(set(got))
    total = {k: sum(s[k] for s in stats)
             for k in ("ok", "reset", "starved", "foreign")}
    print(f"\ndmak{index}: {kills} killed, their packets {sent.value}; "
          f"{total}")
    assert sent.value >= kills, "the victims hardly transferred"
    assert not dup, f"{dup} packets arrived twice"
    for s in stats:
        assert s["ok"] + s["reset"] + s["starved"] == TRANSFERS
        # The losses come with the kills: most transfers end well.
        assert s["ok"] >= TRANSFERS // 2, s
    assert_buffers_returned(index)
    _loopback_check(index)
    _settled_memory(before)


def _minors():
    return sorted(os.minor(os.stat(f"/dev/{dev.name}").st_rdev)
                  for dev in SYSFS.iterdir())


def _in_flight(conn):
    """Transfers in flight on both devices: a receive waiting for a packet
    and a slow send on each; says so, then sleeps until killed or the
    device goes."""
    devs = [pydmak.Device(i) for i in (0, 1)]
    keep = []
    for dev in devs:
        dma = pydmak.DMA(dev)
        src = pydmak.allocate(ROOM, "u1", device=dev, cacheable=True)
        dst = pydmak.allocate(ROOM, "u1", device=dev)
        # The first packet takes 21 ms; the second has no receive and
        # stalls once it filled the stream FIFO.
        dma.recvchannel.transfer(dst)
        dma.sendchannel.transfer(src)
        dma.sendchannel.transfer(src)
        keep += [dma, src, dst]
    conn.send(True)
    time.sleep(3600)


def test_module_cycles_with_transfers_in_flight(direct_and_sg):
    """50 cycles: both modules loaded, a process with transfers in flight
    on both devices, then either the process killed and the modules
    removed, or the simulator removed under the running transfers first."""
    close_default_device()
    gc.collect()
    before = mem_available()
    first = _minors()
    assert first == [0, 1]
    for cycle in range(50):
        for i in (0, 1):
            sim_set("bandwidth", 50_000_000, i)     # 1 MiB: 21 ms
        mine, theirs = _MP.Pipe(duplex=False)
        proc = _MP.Process(target=_in_flight, args=(theirs,))
        proc.start()
        theirs.close()
        assert mine.poll(60) and mine.recv(), cycle
        if cycle % 2:
            sh("rmmod", "dmak_sim")          # under the running transfers
            assert not SYSFS.exists() or not any(SYSFS.iterdir()), cycle
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
        assert proc.exitcode == -signal.SIGKILL, cycle
        sh("rmmod", "dmak")
        if not cycle % 2:
            sh("rmmod", "dmak_sim")
        assert not SYSFS.exists(), cycle
        assert not any(n.startswith("dmak") for n in os.listdir("/dev"))
        sh("insmod", str(REPO / "kmod" / "dmak_sim.ko"), *SIM_ARGS)
        sh("insmod", str(REPO / "kmod" / "dmak.ko"))
        assert _minors() == first, cycle
        assert [live_buffers(i) for i in (0, 1)] == [(0, 0)] * 2, cycle
    for i in (0, 1):
        _loopback_check(i)
    _settled_memory(before)


def _send_and_sleep(index, conn):
    """A send of ROOM bytes, then sleep: for a kill mid-send."""
    dev = pydmak.Device(index)
    dma = pydmak.DMA(dev)
    src = pydmak.allocate(ROOM, "u1", device=dev)
    src[:] = packet(1, 1, ROOM)
    dma.sendchannel.transfer(src)
    conn.send(True)
    time.sleep(3600)


@pytest.mark.parametrize("index", [0, 1], ids=["direct", "sg"])
def test_a_sender_killed_mid_packet_ends_the_receive_it_fed(direct_and_sg,
                                                            index):
    """The receive of another file took part of the packet when its sender
    is killed: the reset that stops the send ends it with DMAK_ST_RESET
    (its bytes are no packet), and the next packet arrives whole."""
    with pydmak.Device(index) as dev, pydmak.DMA(dev) as dma:
        dst = pydmak.allocate(ROOM, "u1", device=dev)
        dma.recvchannel.transfer(dst)
        sim_set("bandwidth", 1_000_000, index)     # 1 MiB: 1 s
        try:
            mine, theirs = _MP.Pipe(duplex=False)
            proc = _MP.Process(target=_send_and_sleep, args=(index, theirs))
            proc.start()
            assert mine.poll(30) and mine.recv()
            time.sleep(0.1)
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(30)
            with pytest.raises(pydmak.DMAError) as exc:
                dma.recvchannel.wait(10)
            assert exc.value.status == _uapi.ST_RESET, str(exc.value)
        finally:
            sim_set("bandwidth", 0, index)
        dst.freebuffer()
    _loopback_check(index)
