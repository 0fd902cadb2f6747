"""Devices found by name, node name and base address (sysfs), and the
register view: debugfs regs, DMAK_IOC_REGS and ``dma.register_map``.

The first tests look at the default load (one direct IP); the rest reload
the simulator with three IPs: dmak0 direct, dmak1 SG, dmak2 SG with 64-bit
addresses (MSB registers present).
"""

import ctypes
import errno
import os
import pathlib

import numpy as np
import pytest

import pydmak
from pydmak import _libc, _uapi, registers
from pydmak.dma import delay_units
from pydmak._libc import ioctl
from conftest import (REPO, load_modules, sh, sysfs_attr, wait_for,
                      with_modules)

DEBUGFS = pathlib.Path("/sys/kernel/debug/dmak")
COMPATIBLE = "xlnx,axi-dma-7.1 xlnx,axi-dma-1.00.a"
BASE = 0x40400000
STRIDE = 0x10000


@pytest.fixture(scope="module")
def default_load():
    """The modules as every test module starts them: one direct IP."""
    load_modules()


@pytest.fixture(scope="module")
def three(default_load):
    """dmak0 direct, dmak1 SG, dmak2 SG with 64-bit addresses."""
    yield from with_modules(["instances=3", "sg=0,1,1",
                             "addr_width=32,32,64"])


# -- the default load -----------------------------------------------------

def test_default_ip_has_a_name_node_base_and_compatible(default_load):
    assert sysfs_attr("name") == "axi_dma_0"
    assert sysfs_attr("node") == "dma@40400000"
    assert sysfs_attr("base") == "0x40400000"
    assert sysfs_attr("compatible") == COMPATIBLE
    assert pydmak.devices() == [pydmak.DeviceEntry(
        path="/dev/dmak0", index=0, name="axi_dma_0", node="dma@40400000",
        base=BASE, compatible=tuple(COMPATIBLE.split()), sg=False)]


def test_default_ip_opens_by_name_and_address(default_load):
    for spec in ("axi_dma_0", "dma@40400000", BASE, 0):
        with pydmak.DMA(spec) as dma:
            assert dma.device.path == "/dev/dmak0", spec
            assert dma.device.name == "axi_dma_0"


def test_registers_stay_out_of_iomem(default_load):
    """The simulated IP's window is its own: nothing claims RAM."""
    assert "pydmak-axi-dma" not in pathlib.Path("/proc/iomem").read_text()


# -- three IPs: sysfs and lookup ------------------------------------------

@pytest.mark.parametrize("index", [0, 1, 2])
def test_sysfs_names_each_instance(three, index):
    base = BASE + index * STRIDE
    assert sysfs_attr("name", index) == f"axi_dma_{index}"
    assert sysfs_attr("node", index) == f"dma@{base:x}"
    assert sysfs_attr("base", index) == f"0x{base:x}"
    assert sysfs_attr("compatible", index) == COMPATIBLE


def test_devices_lists_all_three(three):
    found = pydmak.devices()
    assert [(e.path, e.name, e.node, e.base, e.sg) for e in found] == [
        (f"/dev/dmak{i}", f"axi_dma_{i}", f"dma@{BASE + i * STRIDE:x}",
         BASE + i * STRIDE, i > 0) for i in range(3)]
    assert [e.mode for e in found] == ["direct", "sg", "sg"]


@pytest.mark.parametrize("spec, index", [
    ("axi_dma_1", 1), (0x40410000, 1), ("dma@40410000", 1),
    ("axi_dma_2", 2), (0x40420000, 2), ("axi_dma_0", 0), (BASE, 0),
    (1, 1), ("/dev/dmak2", 2),
])
def test_dma_opens_the_right_device(three, spec, index):
    with pydmak.DMA(spec) as dma:
        assert dma.device.path == f"/dev/dmak{index}"
        assert dma.info.sg == (index > 0)
        assert dma.info.addr_width == (64 if index == 2 else 32)


def test_device_from_an_entry(three):
    entry = pydmak.devices()[2]
    with pydmak.Device(entry) as dev:
        assert dev.path == "/dev/dmak2"


@pytest.mark.parametrize("spec, what", [
    ("axi_dma_7", "named 'axi_dma_7'"),
    (0x40430000, "at base address 0x40430000"),
])
def test_unknown_name_lists_every_device(three, spec, what):
    with pytest.raises(pydmak.DeviceNotFoundError) as exc:
        pydmak.DMA(spec)
    msg = str(exc.value)
    assert exc.value.errno == errno.ENOENT
    assert what in msg
    for i in range(3):
        assert (f"axi_dma_{i} @ 0x{BASE + i * STRIDE:x} -> /dev/dmak{i}"
                in msg), msg


# -- the register view ----------------------------------------------------

def _debugfs(index):
    """debugfs regs of dmakN: {name: (value or None, {field: value})}."""
    text = (DEBUGFS / f"dmak{index}" / "regs").read_text()
    lines = text.splitlines()
    regs = {}
    for line in lines[1:]:
        name, offset, value, *rest = line.split()
        assert int(offset, 16) == registers.REGISTERS[name].offset
        if value == "-":
            regs[name] = (None, {})
            continue
        fields = dict(f.split("=") for f in rest)
        regs[name] = (int(value, 16), {k: int(v) for k, v in fields.items()})
    return lines[0], regs


def _idle(index):
    """The DMA of dmakN after a reset, with nothing queued."""
    dma = pydmak.DMA(index)
    dma.sendchannel.reset()
    return dma


@pytest.mark.parametrize("index", [0, 1, 2])
def test_debugfs_regs_match_the_ioctl(three, index):
    with _idle(index) as dma:
        present, words = dma.device.registers()
        header, regs = _debugfs(index)
    base = BASE + index * STRIDE
    assert header.startswith(f"dmak{index}: axi_dma_{index} "
                             f"(dma@{base:x}) at 0x{base:x}")
    assert list(regs) == list(registers.REGISTERS)      # every register
    for name, spec in registers.REGISTERS.items():
        value, fields = regs[name]
        if present & (1 << spec.word):
            assert value == words[spec.word], name
            assert fields == registers.decode(name, value), name
        else:
            assert value is None and words[spec.word] == 0, name
    sg, msb = index > 0, index == 2
    assert (regs["MM2S_CURDESC"][0] is not None) == sg
    assert (regs["S2MM_TAILDESC_MSB"][0] is not None) == msb
    assert (regs["SG_CTL"][0] is not None) == sg
    assert (regs["MM2S_SA"][0] is not None) == (not sg)
    assert (regs["S2MM_LENGTH"][0] is not None) == (not sg)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_after_reset_both_channels_halt(three, index):
    with _idle(index) as dma:
        _, regs = _debugfs(index)
        rmap = dma.register_map
        for ch in ("MM2S", "S2MM"):
            assert regs[f"{ch}_DMASR"][1]["Halted"] == 1
            assert regs[f"{ch}_DMASR"][1]["SGIncld"] == (index > 0)
            assert regs[f"{ch}_DMACR"][1]["RS"] == 0
            sr = getattr(rmap, f"{ch}_DMASR")
            assert sr.Halted == 1 and sr.SGIncld == (index > 0)
            assert getattr(rmap, f"{ch}_DMACR").IRQThreshold == 1


def test_absent_registers_raise_with_the_reason(three):
    with pydmak.DMA(1) as dma:
        with pytest.raises(AttributeError, match="direct mode only"):
            dma.register_map.MM2S_SA
        with pytest.raises(AttributeError, match="address width 32"):
            dma.register_map.MM2S_CURDESC_MSB
    with pydmak.DMA(0) as dma:
        with pytest.raises(AttributeError, match="scatter-gather only"):
            dma.register_map.SG_CTL


def test_register_map_follows_a_direct_transfer_and_reset(three):
    with _idle(0) as dma:
        rmap = dma.register_map
        assert rmap.MM2S_DMASR.Halted == 1
        src = pydmak.allocate(1000, dtype="u1", device=dma.device)
        dst = pydmak.allocate(4096, dtype="u1", device=dma.device)
        src[:] = np.arange(1000) % 251
        dma.recvchannel.transfer(dst)
        dma.sendchannel.transfer(src)
        dma.sendchannel.wait(timeout=5)
        dma.recvchannel.wait(timeout=5)
        assert np.array_equal(dst[:1000], src)
        # live: every access reads the hardware again
        assert rmap.MM2S_DMACR.RS == 1 and rmap.S2MM_DMACR.RS == 1
        assert rmap.MM2S_DMACR.IOC_IrqEn == 1
        assert rmap.MM2S_DMASR.Halted == 0
        assert rmap.MM2S_DMASR.Idle == 1
        assert int(rmap.MM2S_SA) == src.physical_address & 0xFFFFFFFF
        assert int(rmap.S2MM_DA) == dst.physical_address & 0xFFFFFFFF
        assert rmap.MM2S_LENGTH.Length == 1000
        assert rmap.S2MM_LENGTH.Length == 1000     # bytes received
        _, regs = _debugfs(0)
        assert regs["S2MM_LENGTH"][1] == {"Length": 1000}
        dma.sendchannel.reset()
        assert rmap.MM2S_DMASR.Halted == 1 and rmap.MM2S_DMACR.RS == 0
        assert rmap.S2MM_DMASR.Halted == 1
        src.freebuffer()
        dst.freebuffer()


def test_register_map_follows_sg_transfers_and_coalescing(three):
    with _idle(2) as dma:
        rmap = dma.register_map
        assert rmap.S2MM_DMACR.IRQThreshold == 1
        src = pydmak.allocate(8192, dtype="u1", device=dma.device)
        dst = pydmak.allocate(8192, dtype="u1", device=dma.device)
        src[:] = 7
        dma.recvchannel.transfer(dst)
        dma.sendchannel.transfer(src)
        dma.sendchannel.wait(timeout=5)
        dma.recvchannel.wait(timeout=5)
        assert rmap.S2MM_DMASR.Halted == 0 and rmap.S2MM_DMACR.RS == 1
        cur = rmap.S2MM_CURDESC.value | rmap.S2MM_CURDESC_MSB.value << 32
        tail = rmap.S2MM_TAILDESC.value | rmap.S2MM_TAILDESC_MSB.value << 32
        assert cur and cur == tail and cur % 64 == 0
        dma.recvchannel.coalesce(4, delay_us=100)
        assert wait_for(lambda: rmap.S2MM_DMACR.IRQThreshold == 4)
        assert rmap.S2MM_DMACR.IRQDelay == delay_units(
            100, dma.info.delay_unit_ns)
        dma.sendchannel.reset()
        assert rmap.S2MM_DMASR.Halted == 1
        src.freebuffer()
        dst.freebuffer()


def test_regs_ioctl_bad_arguments(three):
    with pydmak.Device(0) as dev:
        fd = dev.fileno()
        assert _libc._ioctl(fd, _uapi.IOC_REGS, 16) == -1   # no memory
        assert ctypes.get_errno() == errno.EFAULT

        class Short(ctypes.Structure):
            _fields_ = [("present", ctypes.c_uint32)]

        short = _uapi._ior(_uapi.IOC_MAGIC, 0x09, Short)
        with pytest.raises(OSError) as exc:
            ioctl(fd, short, Short())
        assert exc.value.errno == errno.ENOTTY
        raw = _uapi.dmak_regs()
        raw.reserved[0] = raw.reserved[1] = 0xDEAD
        ioctl(fd, _uapi.IOC_REGS, raw)
        assert list(raw.reserved) == [0, 0]        # zero on output
        assert raw.present & 0b11 == 0b11             # MM2S DMACR, DMASR


def test_registers_of_a_removed_device(three):
    """After the hardware goes: ENODEV, and its debugfs directory goes."""
    dev = pydmak.Device(1)
    try:
        sh("rmmod", "dmak_sim")
        with pytest.raises(pydmak.DmakError) as exc:
            dev.registers()
        assert exc.value.errno == errno.ENODEV
        assert "removed" in str(exc.value)
        assert not (DEBUGFS / "dmak1").exists()
        assert DEBUGFS.is_dir()                 # the module's stays
    finally:
        dev.close()
        sh("insmod", str(REPO / "kmod" / "dmak_sim.ko"), "instances=3",
           "sg=0,1,1", "addr_width=32,32,64")
    assert wait_for(lambda: os.path.exists("/dev/dmak2"))
