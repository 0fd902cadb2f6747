"""Injected faults, timeouts and recovery: each error is named, then fixed."""

import asyncio
import gc
import re
import subprocess
import time

import numpy as np
import pytest

import pydmak
from conftest import live_buffers, sim_fault, wait_for


def _pair(dev, n=4096):
    src = pydmak.allocate(n, "u1", device=dev)
    dst = pydmak.allocate(n, "u1", device=dev)
    src[:] = np.arange(n) % 251
    return src, dst


def _works(dma, src, dst):
    dst[:] = 0
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src)
    dma.sendchannel.wait(10)
    assert dma.recvchannel.wait(10) == src.nbytes
    assert np.array_equal(src, dst)


FAULTS = [
    ("mm2s", "decerr", "DMADecErr", 1 << 6),
    ("mm2s", "slverr", "DMASlvErr", 1 << 5),
    ("mm2s", "interr", "DMAIntErr", 1 << 4),
    ("s2mm", "decerr", "DMADecErr", 1 << 6),
    ("s2mm", "slverr", "DMASlvErr", 1 << 5),
    ("s2mm", "interr", "DMAIntErr", 1 << 4),
]


@pytest.mark.parametrize("chan,fault,name,bit", FAULTS,
                         ids=[f"{c}-{f}" for c, f, _, _ in FAULTS])
def test_injected_error_is_named_and_reset_recovers(dma, dev, chan, fault,
                                                    name, bit):
    src, dst = _pair(dev)
    sim_fault(f"{chan} {fault}")
    failing = dma.sendchannel if chan == "mm2s" else dma.recvchannel
    other = dma.recvchannel if chan == "mm2s" else dma.sendchannel
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src)
    with pytest.raises(pydmak.DMAError) as exc:
        failing.wait(10)
    err = exc.value
    assert err.channel == chan.upper()
    assert name in err.reason and name in str(err)
    assert err.dmasr & bit and err.dmasr & (1 << 14)      # Err_Irq
    assert f"dma.{'sendchannel' if chan == 'mm2s' else 'recvchannel'}" \
           ".reset()" in str(err)
    assert failing.error and name in failing.error
    assert not failing.running
    # Queueing more on a halted channel is refused until it is reset.
    with pytest.raises(pydmak.DMAError, match="halted"):
        failing.transfer(src if chan == "mm2s" else dst)
    other.cancel()
    failing.reset()
    assert failing.error is None
    _works(dma, src, dst)


def test_error_aborts_the_queued_transfers(dma, dev):
    src, dst = _pair(dev)
    sim_fault("mm2s decerr")
    dma.sendchannel.stop()              # queue all three before any runs
    seqs = [dma.sendchannel.transfer(src) for _ in range(3)]
    dma.sendchannel.start()
    with pytest.raises(pydmak.DMAError, match="DMADecErr"):
        dma.sendchannel.wait(10)        # reports the first failure
    for seq in seqs[1:]:
        arg = dma.sendchannel._wait_once(seq, 0)
        assert arg.status == pydmak.dma._uapi.ST_ABORTED
    dma.sendchannel.reset()
    _works(dma, src, dst)


def test_packet_longer_than_the_receive_buffer(dma, dev):
    src, dst = _pair(dev)
    dma.recvchannel.transfer(dst, 0, 1000)
    dma.sendchannel.transfer(src)
    dma.sendchannel.wait(10)
    with pytest.raises(pydmak.DMAError, match="DMAIntErr") as exc:
        dma.recvchannel.wait(10)
    assert exc.value.channel == "S2MM"
    dma.recvchannel.reset()
    _works(dma, src, dst)


def test_timeout_then_wait_again(dma, dev):
    src, dst = _pair(dev)
    dma.recvchannel.transfer(dst)
    with pytest.raises(pydmak.DMATimeoutError) as exc:
        dma.recvchannel.wait(0.3)
    assert isinstance(exc.value, TimeoutError)
    assert "stays queued" in str(exc.value)
    assert dma.recvchannel.queued == 1
    dma.sendchannel.transfer(src)            # the data comes late
    assert dma.recvchannel.wait(10) == src.nbytes
    dma.sendchannel.wait(10)
    assert np.array_equal(src, dst)


def test_packet_that_never_ends_then_cancel(dma, dev):
    src, dst = _pair(dev)
    big = pydmak.allocate(3 * src.nbytes, "u1", device=dev)
    sim_fault("mm2s no-tlast")
    dma.recvchannel.transfer(big)
    dma.sendchannel.transfer(src)
    dma.sendchannel.wait(10)                 # MM2S itself completes
    with pytest.raises(pydmak.DMATimeoutError):
        dma.recvchannel.wait(0.5)            # no TLAST: S2MM waits on
    dma.recvchannel.cancel()                 # running: a reset stops it
    assert dma.recvchannel.queued == 0
    _works(dma, src, dst)


def test_packet_without_tlast_runs_into_the_next(dma, dev):
    src, _ = _pair(dev, 1000)
    big = pydmak.allocate(4000, "u1", device=dev)
    sim_fault("mm2s no-tlast")
    dma.recvchannel.transfer(big)
    dma.sendchannel.transfer(src)
    dma.sendchannel.transfer(src)
    dma.sendchannel.wait(10)
    assert dma.recvchannel.wait(10) == 2000
    assert np.array_equal(big[:1000], src) and np.array_equal(big[1000:2000],
                                                                src)


def test_lost_interrupt_costs_a_delay_not_a_hang(dma, dev):
    src, dst = _pair(dev)
    sim_fault("mm2s lost-irq")
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src)
    assert dma.sendchannel.wait() == src.nbytes  # no limit, still returns
    assert dma.recvchannel.wait(10) == src.nbytes
    log = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    assert re.search(r"mm2s: transfer \d+ ended without its interrupt", log)


def test_a_lost_interrupt_does_not_stall_readers(dma, dev):
    """Nobody WAITs: the driver's watchdog finds the transfer ended all the
    same, so poll() and wait_async() see it within a few seconds, and the
    transfer queued behind it runs."""
    src, dst = _pair(dev)
    sim_fault("s2mm lost-irq")
    dma.recvchannel.transfer(dst)
    dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src)
    dma.sendchannel.transfer(src)
    start = time.monotonic()
    assert asyncio.run(dma.recvchannel.wait_async(timeout=10)) == \
        src.nbytes
    assert time.monotonic() - start < 5
    dma.sendchannel.wait(10)
    log = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    assert re.search(r"s2mm: transfer \d+ ended without its interrupt", log)


def test_wait_async_times_out_and_keeps_the_transfer(dma, dev):
    src, dst = _pair(dev)
    dma.recvchannel.transfer(dst)           # no data comes
    with pytest.raises(pydmak.DMATimeoutError, match="within 0.3 s"):
        asyncio.run(dma.recvchannel.wait_async(timeout=0.3))
    assert dma.recvchannel.queued == 1
    with pytest.raises(ValueError, match="must not be negative"):
        asyncio.run(dma.recvchannel.wait_async(timeout=-1))
    dma.sendchannel.transfer(src)
    assert asyncio.run(dma.recvchannel.wait_async(timeout=10)) == \
        src.nbytes
    dma.sendchannel.wait(10)


def test_stalled_engine_times_out_and_reset_recovers(dma, dev):
    src, dst = _pair(dev)
    sim_fault("mm2s stall")
    dma.sendchannel.transfer(src)
    with pytest.raises(pydmak.DMATimeoutError):
        dma.sendchannel.wait(0.3)
    dma.sendchannel.reset()
    _works(dma, src, dst)


def test_reset_ends_unfinished_transfers_on_both_channels(dma, dev):
    src, dst = _pair(dev)
    first = dma.recvchannel.transfer(dst)
    dma.recvchannel.transfer(dst)
    dma.sendchannel.reset()
    assert dma.recvchannel.queued == 0
    assert not dma.recvchannel._pending       # this DMA knows they ended
    arg = dma.recvchannel._wait_once(first, 0)
    assert arg.status == pydmak.dma._uapi.ST_RESET
    _works(dma, src, dst)


def test_free_a_buffer_while_its_transfer_is_queued(dma, dev):
    src, dst = _pair(dev)
    dma.recvchannel.transfer(dst)
    dst_handle_bytes = live_buffers()
    dst.freebuffer()                 # the queued transfer keeps the memory
    assert live_buffers()[0] == dst_handle_bytes[0]
    dma.sendchannel.transfer(src)
    dma.sendchannel.wait(10)
    assert dma.recvchannel.wait(10) == src.nbytes
    src.freebuffer()
    del src, dst
    gc.collect()                     # gone once the transfer ended
    assert wait_for(lambda: live_buffers() == (0, 0))
