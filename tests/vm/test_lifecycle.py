"""Module load/unload, unbinding under open files, several instances."""

import ctypes
import errno
import gc
import mmap
import multiprocessing
import os
import pathlib
import select
import time

import numpy as np
import pytest

import pydmak
from pydmak import _uapi
from conftest import (REPO, SYSFS, close_default_device, live_buffers,
                      load_modules, mem_available, sh, sim_fault,
                      wait_for)

DMAK_KO = str(REPO / "kmod" / "dmak.ko")


def _chrdev_registered():
    return any(line.split()[-1] == "dmak" for line in
               pathlib.Path("/proc/devices").read_text().splitlines()[1:]
               if line.strip() and line.split()[0].isdigit())


@pytest.fixture
def reload_after():
    close_default_device()
    yield
    load_modules()


def test_unload_refused_while_open(reload_after):
    dev = pydmak.Device(0)
    res = sh("rmmod", "dmak", check=False)
    assert res.returncode != 0 and "in use" in res.stderr
    buf = pydmak.allocate(100, device=dev)
    dev.close()
    res = sh("rmmod", "dmak", check=False)
    assert res.returncode != 0, "a mapping keeps the file, and module, busy"
    del buf
    gc.collect()
    sh("rmmod", "dmak")
    assert not os.path.exists("/dev/dmak0")


def test_twenty_unload_cycles_leak_nothing(reload_after):
    gc.collect()
    before = mem_available()
    for cycle in range(20):
        sh("rmmod", "dmak")
        assert not os.path.exists("/dev/dmak0")
        assert not SYSFS.exists()
        assert not _chrdev_registered()
        sh("insmod", DMAK_KO)
        assert [d.path for d in pydmak.devices()] == ["/dev/dmak0"], cycle
        with pydmak.Device(0) as dev:
            # Leave buffers to the close, some mapped, some not.
            bufs = [pydmak.allocate(1 << 20, dtype="u1", device=dev,
                                    cacheable=bool(i % 2)) for i in range(4)]
            for b in bufs:
                b[::4096] = cycle
            for i in range(4):
                dev.alloc(1 << 20, cached=bool(i % 2))
        del bufs, b
        gc.collect()
        assert live_buffers() == (0, 0)
    lost = before - mem_available()
    assert lost < 24 << 20, f"{lost >> 20} MiB gone after 20 cycles"


def _sum_after(conn, buf, go):
    """In a forked child: waits for ``go``, then sends the sum of ``buf``
    as the child's mapping shows it."""
    go.wait(60)
    conn.send(int(buf.sum()))


def test_simulator_removed_under_open_files(reload_after):
    """Unbinding the hardware under an open file: ENODEV, no crash. The
    buffers' memory goes back to the kernel at once: their mappings are
    revoked, in a forked child too, and read zeros from then on (a write
    lands on a page of the file's own). An exported buffer's memory stays
    with its dma-buf, whose importers may still use it."""
    dev = pydmak.Device(0)
    gc.collect()
    before = mem_available()
    # 128 MiB in blocks of 4 MiB, which any kernel has (CMA or not)
    bulk = [pydmak.allocate(4 << 20, dtype="u1", device=dev,
                            cacheable=bool(i % 2)) for i in range(32)]
    buf = pydmak.allocate(5000, dtype="u1", device=dev, cacheable=True)
    shared = pydmak.allocate(8192, dtype="u1", device=dev)
    for b, value in [(b, 1) for b in bulk] + [(buf, 0x5A), (shared, 7)]:
        b[:] = value
    fd = shared.export()
    unmapped = dev.alloc(4096)
    go = multiprocessing.Event()
    parent, child = multiprocessing.Pipe()
    reader = multiprocessing.Process(target=_sum_after,
                                     args=(child, buf, go))
    reader.start()
    assert before - mem_available() > 120 << 20
    try:
        sh("rmmod", "dmak_sim")      # removes the device dmak is bound to
        assert not os.path.exists("/dev/dmak0")
        assert wait_for(lambda: before - mem_available() < 24 << 20), \
            f"{(before - mem_available()) >> 20} MiB still taken"
        go.set()
        assert parent.poll(30) and parent.recv() == 0     # the child's
        reader.join(10)
        assert not any(b.any() for b in bulk) and not buf.any()
        buf[:100] = 3               # the file's own page: no harm done
        assert buf[99] == 3
        with mmap.mmap(fd, 8192) as m:  # the exported one is all there
            assert m[:] == b"\x07" * 8192
        with pytest.raises(pydmak.DmakError) as exc:
            dev.alloc(10)
        assert exc.value.errno == errno.ENODEV
        assert "removed" in str(exc.value)
        with pytest.raises(pydmak.DmakError) as exc:
            buf.flush()
        assert exc.value.errno == errno.ENODEV
        with pytest.raises(OSError) as exc:          # no new mappings
            mmap.mmap(dev.fileno(), 4096, offset=unmapped.mmap_offset)
        assert exc.value.errno == errno.ENODEV
    finally:
        go.set()
        os.close(fd)
    for b in bulk + [buf, shared]:
        b.freebuffer()
    dev.free(unmapped.handle)
    dev.close()
    del bulk, buf, shared, b
    gc.collect()
    sh("insmod", str(REPO / "kmod" / "dmak_sim.ko"))
    assert [d.path for d in pydmak.devices()] == ["/dev/dmak0"]
    with pydmak.Device(0) as again:
        assert again.info.mm2s


def test_removal_ends_transfers_as_they_ended_and_hangs_up(reload_after):
    """The receive completed but its interrupt was lost when the simulator
    goes: removal ends it as it ended (OK, its bytes), the one queued
    behind it REMOVED. Then poll() says POLLHUP and POLLERR, and read()
    gives the records left, then ENODEV; a reader blocked with nothing to
    read wakes up with ENODEV. The bytes went with the device's memory."""
    dev = pydmak.Device(0)
    idle = pydmak.Device(0)             # a file with no transfers at all
    dma = pydmak.DMA(dev)
    src = pydmak.allocate(4096, "u1", device=dev)
    dst = pydmak.allocate(4096, "u1", device=dev)
    src[:] = 7

    def blocked_read(fd, conn):
        try:
            os.read(fd, 4096)
            conn.send(0)
        except OSError as exc:
            conn.send(exc.errno)

    parent, child = multiprocessing.Pipe()
    reader = multiprocessing.Process(target=blocked_read,
                                     args=(idle.fileno(), child))
    reader.start()
    time.sleep(0.5)
    assert reader.is_alive()            # blocked: nothing to read
    sim_fault("s2mm lost-irq")
    done = dma.recvchannel.transfer(dst)
    behind = dma.recvchannel.transfer(dst)
    dma.sendchannel.transfer(src)
    dma.sendchannel.wait(10)
    # The engine is done with it (S2MM's DMASR says so); the driver's
    # watchdog would find it within a second: remove the device first.
    assert wait_for(lambda: dma.register_map.S2MM_DMASR.IOC_Irq == 1)
    assert (dst == 7).all()
    sh("rmmod", "dmak_sim")
    assert parent.poll(10) and parent.recv() == errno.ENODEV
    reader.join(10)

    for fd in (dev.fileno(), idle.fileno()):
        events = select.poll()
        events.register(fd, select.POLLIN)
        [(_, mask)] = events.poll(1000)
        assert mask & select.POLLHUP and mask & select.POLLERR, mask
    os.set_blocking(dev.fileno(), False)
    recs = (_uapi.dmak_completion * 8)()
    n = os.readv(dev.fileno(), [recs]) // ctypes.sizeof(_uapi.dmak_completion)
    got = {(r.channel, r.seq): (r.status, r.bytes) for r in recs[:n]}
    assert got[(_uapi.S2MM, done)] == (_uapi.ST_OK, 4096)
    assert got[(_uapi.S2MM, behind)][0] == _uapi.ST_REMOVED
    with pytest.raises(OSError) as exc:
        os.readv(dev.fileno(), [recs])
    assert exc.value.errno == errno.ENODEV
    assert not dst.any()                # its memory went with the device
    for buf in (src, dst):
        buf.freebuffer()
    dma.close()
    dev.close()
    idle.close()
    del src, dst
    gc.collect()
    sh("insmod", str(REPO / "kmod" / "dmak_sim.ko"))


def test_several_instances_and_parameters(reload_after):
    load_modules(["instances=3", "length_width=14", "addr_width=64",
                  "data_width=128", "sg=1", "dre=1"])
    assert [d.path for d in pydmak.devices()] == [
        f"/dev/dmak{i}" for i in range(3)]
    for i in range(3):
        with pydmak.Device(i) as dev:
            info = dev.info
            assert (info.length_width, info.addr_width, info.data_width) == \
                (14, 64, 128)
            assert info.sg and info.dre and info.alignment == 1
            # SG: a transfer is split over descriptors of 16320 bytes.
            assert info.desc_max == 16320 and info.ring_size == 256
            assert info.max_transfer == 16320 * 256
            buf = pydmak.allocate(50001, "u1", device=dev)
            dst = pydmak.allocate(50001, "u1", device=dev)
            buf[:] = (np.arange(50001) * (i + 1)) % 256
            with pydmak.DMA(dev) as dma:
                dma.recvchannel.transfer(dst)
                dma.sendchannel.transfer(buf)
                dma.sendchannel.wait(10)
                assert dma.recvchannel.wait(10) == 50001
            assert np.array_equal(buf, dst)
            buf.freebuffer()
            dst.freebuffer()


def test_bad_simulator_parameters_are_refused(reload_after):
    close_default_device()
    sh("rmmod", "dmak")
    sh("rmmod", "dmak_sim")
    for arg in ("length_width=30", "instances=0", "data_width=24",
                "addr_width=16"):
        res = sh("insmod", str(REPO / "kmod" / "dmak_sim.ko"), arg,
                 check=False)
        assert res.returncode != 0, arg
        assert not os.path.exists("/sys/module/dmak_sim")


def test_dt_mode_takes_its_instances_from_the_device_tree(reload_after):
    """dmak_sim dt=1 makes its instances from device-tree nodes only. A
    guest with no device tree (x86: Debian's kernels have no CONFIG_OF)
    refuses the load with ENODEV and says why; on one whose tree has the
    sim node (arm64) every device is bound to a DT node
    (test_devicetree.py checks the rest there)."""
    close_default_device()
    sh("rmmod", "dmak")
    sh("rmmod", "dmak_sim")
    said = "dmak-sim: dt=1: "
    before = sh("dmesg").stdout.count(said)
    res = sh("insmod", str(REPO / "kmod" / "dmak_sim.ko"), "dt=1",
             check=False)
    if not pathlib.Path("/proc/device-tree").exists():
        assert res.returncode != 0
        assert "No such device" in res.stderr, res.stderr
        assert sh("dmesg").stdout.count(said) == before + 1
        assert not os.path.exists("/sys/module/dmak_sim")
    else:
        assert res.returncode == 0, res.stderr
        sh("insmod", DMAK_KO)
        assert len(pydmak.devices()) == 2
        for dev in SYSFS.iterdir():
            assert (dev / "device" / "of_node").exists(), dev
