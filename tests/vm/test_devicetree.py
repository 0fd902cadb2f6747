"""The simulator's device-tree mode, on the arm64 guest.

That guest boots QEMU virt with dts/sim/dmak-sim.dtsi merged into its own
tree. ``dmak_sim dt=1`` makes two simulated IPs from the AXI DMA nodes
under the sim node, and dmak.ko probes them through those same nodes, as
on a board: sysfs ``name``, ``node``, ``base`` and ``compatible`` and the
widths match the tree (the direct IP is named by its label alone); the SG
IP has SG and took its interrupts from its dma-channel children, MM2S's
from the mm2s child and S2MM's from the s2mm one; its four clocks are on
while it is bound and off after; loopbacks through both check every byte;
the direct IP's buffers come from the pool its memory-region names, which
keeps them across the simulator's removal; both modules unload and load
again cleanly.

The x86 guests have no device tree, so their tier leaves this file out;
run anywhere /proc/device-tree is missing, every test fails saying so.
"""

import gc
import pathlib
import struct

import numpy as np
import pytest

import pydmak
from conftest import (REPO, SIM_DEBUGFS, SYSFS, close_default_device, sh,
                      with_modules)

DT = pathlib.Path("/proc/device-tree")
DMA_COMPATIBLE = {"xlnx,axi-dma-1.00.a", "pydmak,axi-dma"}
CHAN_COMPATIBLE = {"mm2s": "xlnx,axi-dma-mm2s-channel",
                   "s2mm": "xlnx,axi-dma-s2mm-channel"}
IRQS = pathlib.Path("/sys/kernel/irq")
CLK = pathlib.Path("/sys/kernel/debug/clk")
RNG = np.random.default_rng(1984)


# -- the tree, as the kernel has it ------------------------------------------

def strings(node, prop):
    return (node / prop).read_bytes().rstrip(b"\0").decode().split("\0")


def cells(node, prop):
    raw = (node / prop).read_bytes()
    return list(struct.unpack(f">{len(raw) // 4}I", raw))


def compatible(node):
    return strings(node, "compatible") if (node / "compatible").exists() \
        else []


def dt_path(node):
    """``node``'s path in the tree, as /__symbols__ spells it."""
    return "/" + str(node.relative_to(DT))


def label_of(node):
    """``node``'s label in /__symbols__, or None."""
    symbols = DT / "__symbols__"
    for entry in symbols.iterdir():
        if strings(symbols, entry.name) == [dt_path(node)]:
            return entry.name
    return None


def widest(node, prop, default):
    """A width as dmak.ko reads it: the node's, else its widest child's."""
    if (node / prop).exists():
        return cells(node, prop)[0]
    found = [cells(c, prop)[0] for c in node.iterdir()
             if c.is_dir() and (c / prop).exists()]
    return max(found) if found else default


def sim_node():
    if not DT.is_dir():
        pytest.fail(
            "/proc/device-tree is missing: this kernel booted without a "
            "device tree. tests/vm/test_devicetree.py is for the arm64 guest, "
            "booted with dts/sim/dmak-sim.dtsi merged into QEMU virt's tree "
            "(the x86 tier leaves it out)", pytrace=False)
    for node in sorted(DT.iterdir()):
        if node.is_dir() and "pydmak,axi-dma-sim" in compatible(node):
            return node
    pytest.fail("no node compatible with pydmak,axi-dma-sim in "
                "/proc/device-tree: boot with dts/sim/dmak-sim.dtsi merged "
                "into the tree", pytrace=False)


def dma_nodes(sim):
    return sorted(n for n in sim.iterdir()
                  if n.is_dir() and DMA_COMPATIBLE & set(compatible(n)))


# -- the devices --------------------------------------------------------------

def device_of(node):
    """The index N of the /dev/dmakN bound to ``node``."""
    want = node.resolve()
    for dev in SYSFS.iterdir():
        of_node = dev / "device" / "of_node"
        if of_node.exists() and of_node.resolve() == want:
            return int(dev.name[len("dmak"):])
    raise AssertionError(f"no /dev/dmakN is bound to {dt_path(node)}")


def attr(index, name):
    return (SYSFS / f"dmak{index}" / name).read_text().strip()


def irqs_of(index):
    """{hwirq: virq} of the interrupts dmak{index} requested."""
    name = (SYSFS / f"dmak{index}" / "device").resolve().name
    found = {}
    for d in IRQS.iterdir():
        if (d / "actions").read_text().strip() == name:
            found[int((d / "hwirq").read_text())] = int(d.name)
    return found


def irq_count(virq):
    return sum(int(c) for c in
               (IRQS / str(virq) / "per_cpu_count").read_text().split(","))


@pytest.fixture(scope="module")
def nodes():
    """The two AXI DMA nodes, with the modules loaded in DT mode: direct
    first, then SG (the fragment's order)."""
    found = dma_nodes(sim_node())
    assert [n.name for n in found] == ["dma@a0000000", "dma@a0010000"], \
        "the tree does not hold dts/sim/dmak-sim.dtsi's two IPs"
    for _ in with_modules(["dt=1"]):
        yield found


@pytest.fixture
def direct(nodes):
    return nodes[0]


@pytest.fixture
def sg(nodes):
    return nodes[1]


# -- identity -----------------------------------------------------------------

def test_each_node_has_its_device(nodes):
    indices = {device_of(n) for n in nodes}
    assert len(indices) == 2
    assert sorted(p.name for p in SYSFS.iterdir()) == \
        sorted(f"dmak{i}" for i in indices)


@pytest.mark.parametrize("which", [0, 1])
def test_sysfs_identity_is_the_node(nodes, which):
    node = nodes[which]
    index = device_of(node)
    if (node / "xlnx,name").exists():
        name = strings(node, "xlnx,name")[0]
    else:
        name = label_of(node)
    assert name and attr(index, "name") == name
    assert attr(index, "node") == node.name
    addr_cells = cells(node.parent, "#address-cells")[0]
    reg = cells(node, "reg")[:addr_cells]
    base = sum(c << (32 * (addr_cells - 1 - i)) for i, c in enumerate(reg))
    assert attr(index, "base") == hex(base)
    assert attr(index, "compatible") == " ".join(compatible(node))
    with pydmak.DMA(name) as dma:
        assert dma.device.path == f"/dev/dmak{index}"


def test_label_names_the_node_without_xlnx_name(direct):
    assert not (direct / "xlnx,name").exists()
    assert label_of(direct) == "axi_dma_0"
    assert attr(device_of(direct), "name") == "axi_dma_0"


@pytest.mark.parametrize("which", [0, 1])
def test_widths_are_the_nodes(nodes, which):
    node = nodes[which]
    index = device_of(node)
    addr = widest(node, "xlnx,addrwidth", 32)
    length = widest(node, "xlnx,sg-length-width", 14)
    data = widest(node, "xlnx,datawidth", 32)
    has_sg = (node / "xlnx,include-sg").exists()
    assert int(attr(index, "addr_width")) == addr
    assert int(attr(index, "length_width")) == length
    assert int(attr(index, "data_width")) == data
    # the simulated IP was made from the same node
    configs = [(d / "config").read_text().split()
               for d in SIM_DEBUGFS.iterdir()]
    assert [f"node={node.name}", f"sg={int(has_sg)}", f"addr_width={addr}",
            f"length_width={length}", f"data_width={data}",
            "dre=0"] in configs


def test_sg_ip_has_sg_and_the_direct_one_not(direct, sg):
    assert attr(device_of(direct), "features").split() == ["mm2s", "s2mm"]
    assert attr(device_of(sg), "features").split() == ["mm2s", "s2mm", "sg"]
    assert int(attr(device_of(sg), "ring_size")) > 0
    assert int(attr(device_of(direct), "ring_size")) == 0


# -- interrupts ---------------------------------------------------------------

def channel_lines(node):
    """{"mm2s": hwirq, "s2mm": hwirq} as the node says: named in it, else
    in its dma-channel children."""
    if (node / "interrupt-names").exists():
        names = strings(node, "interrupt-names")
        return {n.split("_")[0]: cells(node, "interrupts")[i]
                for i, n in enumerate(names)}
    lines = {}
    for child in node.iterdir():
        for chan, compat in CHAN_COMPATIBLE.items():
            if child.is_dir() and compat in compatible(child):
                lines[chan] = cells(child, "interrupts")[0]
    return lines


def test_sg_ip_takes_its_interrupts_from_the_children(sg):
    assert not (sg / "interrupts").exists()
    assert not (sg / "interrupt-names").exists()
    lines = channel_lines(sg)
    assert set(lines) == {"mm2s", "s2mm"}
    assert set(irqs_of(device_of(sg))) == set(lines.values())


def test_direct_ip_takes_its_interrupts_from_the_node(direct):
    lines = channel_lines(direct)
    assert set(lines) == {"mm2s", "s2mm"}
    assert set(irqs_of(device_of(direct))) == set(lines.values())


@pytest.mark.parametrize("which", [0, 1])
def test_each_channel_raises_its_own_line(nodes, which):
    """A send alone raises MM2S's line only (the loopback FIFO holds the
    packet); the receive that drains it raises S2MM's."""
    node = nodes[which]
    index = device_of(node)
    lines = channel_lines(node)
    virq = {chan: irqs_of(index)[hw] for chan, hw in lines.items()}
    with pydmak.DMA(index) as dma:
        src = pydmak.allocate(4096, "u1", device=dma.device)
        dst = pydmak.allocate(4096, "u1", device=dma.device)
        src[:] = RNG.integers(0, 256, src.size, dtype=np.uint8)
        before = {c: irq_count(v) for c, v in virq.items()}
        dma.sendchannel.transfer(src)
        dma.sendchannel.wait(10)
        sent = {c: irq_count(v) for c, v in virq.items()}
        assert sent["mm2s"] > before["mm2s"]
        assert sent["s2mm"] == before["s2mm"]
        dma.recvchannel.transfer(dst)
        assert dma.recvchannel.wait(10) == 4096
        assert irq_count(virq["s2mm"]) > sent["s2mm"]
        assert np.array_equal(src, dst)
        src.freebuffer()
        dst.freebuffer()


# -- clocks -------------------------------------------------------------------

def clock_of(node):
    """The debugfs directory of the clock ``node``'s clocks name first."""
    phandle = cells(node, "clocks")[0]
    for clk in DT.iterdir():
        if (clk / "phandle").exists() and cells(clk, "phandle") == [phandle]:
            return CLK / strings(clk, "clock-output-names")[0]
    raise AssertionError(f"no clock node with phandle {phandle}")


def test_sg_ip_clocks_are_on_while_it_is_bound(sg):
    """Its four clocks are the fragment's one fixed clock: enabled and
    prepared once each while dmak.ko holds the IP."""
    assert len(strings(sg, "clock-names")) == 4
    clk = clock_of(sg)
    assert set(cells(sg, "clocks")) == {cells(sg, "clocks")[0]}
    assert (clk / "clk_enable_count").read_text().strip() == "4"
    assert (clk / "clk_prepare_count").read_text().strip() == "4"
    assert (clk / "clk_rate").read_text().strip() == "100000000"


# -- transfers ----------------------------------------------------------------

@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("cacheable", [False, True])
def test_loopbacks_check_every_byte(nodes, which, cacheable):
    index = device_of(nodes[which])
    with pydmak.DMA(index) as dma:
        # 9 MiB: more than one SG descriptor (23-bit lengths) carries. The
        # nodes are not dma-coherent: a cached receive into a whole buffer
        # of any size is allowed (it ends with the buffer).
        for nbytes in (1, 3, 64, 4096, 65540, (1 << 20) + 12, 9 << 20):
            src = pydmak.allocate(nbytes, "u1", cacheable=cacheable,
                                  device=dma.device)
            dst = pydmak.allocate(nbytes, "u1", cacheable=cacheable,
                                  device=dma.device)
            src[:] = RNG.integers(0, 256, nbytes, dtype=np.uint8)
            dma.recvchannel.transfer(dst)
            dma.sendchannel.transfer(src)
            dma.sendchannel.wait(60)
            assert dma.recvchannel.wait(60) == nbytes
            assert np.array_equal(src, dst), nbytes
            src.freebuffer()
            dst.freebuffer()


# -- the direct IP's own memory pool -----------------------------------------

def pool_of(node):
    """(base, size) of the reserved-memory region ``node``'s memory-region
    names."""
    phandle = cells(node, "memory-region")[0]
    for region in (DT / "reserved-memory").iterdir():
        if (region / "phandle").exists() and \
                cells(region, "phandle") == [phandle]:
            hi, lo, size_hi, size_lo = cells(region, "reg")
            return hi << 32 | lo, size_hi << 32 | size_lo
    raise AssertionError(f"{dt_path(node)}: no region has phandle "
                         f"{phandle}")


def in_pool(buf, pool):
    base, size = pool
    addr = buf.physical_address
    return base <= addr and addr + buf.nbytes <= base + size


@pytest.mark.parametrize("cacheable", [False, True])
def test_the_direct_ips_buffers_come_from_its_pool(direct, sg, cacheable):
    """Its memory-region, a CMA pool below 4 GiB, serves all its buffers,
    a page or 9 MiB; the SG IP has none, and its memory is elsewhere (the
    guest's default CMA area lies above 4 GiB)."""
    pool = pool_of(direct)
    assert pool[0] + pool[1] <= 1 << 32
    assert not (sg / "memory-region").exists()
    with pydmak.Device(device_of(direct)) as own, \
            pydmak.Device(device_of(sg)) as other:
        for nbytes in (1, 4096, 1 << 20, 9 << 20):
            buf = pydmak.allocate(nbytes, "u1", cacheable=cacheable,
                                  device=own)
            elsewhere = pydmak.allocate(nbytes, "u1", cacheable=cacheable,
                                        device=other)
            assert in_pool(buf, pool), (nbytes, hex(buf.physical_address))
            assert not in_pool(elsewhere, pool), nbytes
            buf.freebuffer()
            elsewhere.freebuffer()


def test_the_pool_outlives_the_device_for_its_buffers(direct):
    """A buffer of the pool outlives the simulator's removal, its memory
    does not: removal gives it back to the pool (the mapping then reads
    zeros), and once the buffer is freed too, the pool has room again for
    what would not fit beside it."""
    pool = pool_of(direct)
    dev = pydmak.Device(device_of(direct))
    held = pydmak.allocate(pool[1] // 2, "u1", device=dev)
    assert in_pool(held, pool)
    held[:] = 0x3C
    close_default_device()
    sh("rmmod", "dmak_sim")             # unbinds dmak from the node
    assert not held.any()               # revoked: the memory went back
    held.freebuffer()
    dev.close()
    del held
    gc.collect()
    sh("insmod", str(REPO / "kmod" / "dmak_sim.ko"), "dt=1")
    with pydmak.Device(device_of(direct)) as dev:
        big = pydmak.allocate(pool[1] * 3 // 4, "u1", device=dev)
        assert in_pool(big, pool)
        big.freebuffer()


# -- unloading (last: it leaves the modules loaded again) ---------------------

def _unload_and_check(nodes):
    indices = [device_of(n) for n in nodes]
    platform = [(SYSFS / f"dmak{i}" / "device").resolve() for i in indices]
    virqs = [v for i in indices for v in irqs_of(i).values()]
    assert len(virqs) == 4
    close_default_device()
    gc.collect()
    sh("rmmod", "dmak")
    assert not SYSFS.exists() or not any(SYSFS.iterdir())
    clk = clock_of(nodes[1])
    assert (clk / "clk_enable_count").read_text().strip() == "0"
    assert (clk / "clk_prepare_count").read_text().strip() == "0"
    sh("rmmod", "dmak_sim")
    assert not pathlib.Path("/sys/module/dmak_sim").exists()
    for dev in platform:        # depopulated with the sim node's unbinding
        assert not dev.exists(), dev
    for virq in virqs:          # mappings disposed of
        actions = IRQS / str(virq) / "actions"
        assert not actions.exists() or \
            actions.read_text().strip() not in {p.name for p in platform}


def test_modules_unload_and_load_again_cleanly(nodes):
    _unload_and_check(nodes)
    sh("insmod", str(REPO / "kmod" / "dmak_sim.ko"), "dt=1")
    sh("insmod", str(REPO / "kmod" / "dmak.ko"))
    assert sorted(attr(device_of(n), "node") for n in nodes) == \
        ["dma@a0000000", "dma@a0010000"]
    _unload_and_check(nodes)
    # the module's fixture loads the default modules again
