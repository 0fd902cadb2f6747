"""Device-tree sources in dts/ against what dmak.ko reads.

Every .dts/.dtso compiles with dtc (symbols on) without a warning; the
overlays apply to a base with the labels of the kernel's zynqmp.dtsi
(&amba, &gic, &zynqmp_clk); the simulator's fragment merges into QEMU
virt's own tree as the arm64 guest merges it. In each resulting tree,
every AXI DMA node is checked against the driver's source: a compatible it
matches, interrupts it finds (named, else in dma-channel children it
recognises), clock names it asks for, widths in the ranges it accepts, a
name for sysfs. The binding is valid dt-schema, its examples and the
nodes of our own compatible validate against it, and a bad node does not.
"""

import shutil
import subprocess

import pytest

from dtree import DTS, REPO, Fdt, compile_clean, driver_reads, dtc

OVERLAYS = sorted(DTS.glob("*.dtso"))
SOURCES = sorted(DTS.rglob("*.dts")) + OVERLAYS
SIM_DTSI = DTS / "sim" / "dmak-sim.dtsi"
BINDING = DTS / "bindings" / "pydmak,axi-dma.yaml"
VENV_BIN = REPO / ".venv" / "bin"

# The labels an overlay for a Zynq UltraScale+ may use, as the kernel's
# zynqmp.dtsi and zynqmp-clk-ccf.dtsi define them.
ZYNQMP_BASE = """/dts-v1/;
/ {
	compatible = "xlnx,zynqmp";
	model = "ZynqMP labels";
	#address-cells = <2>;
	#size-cells = <2>;
	interrupt-parent = <&gic>;

	gic: interrupt-controller@f9010000 {
		compatible = "arm,gic-400";
		#interrupt-cells = <3>;
		#address-cells = <0>;
		interrupt-controller;
		reg = <0x0 0xf9010000 0x0 0x10000>, <0x0 0xf9020000 0x0 0x20000>;
	};

	zynqmp_clk: clock-controller {
		compatible = "xlnx,zynqmp-clk";
		#clock-cells = <1>;
	};

	amba: axi {
		compatible = "simple-bus";
		#address-cells = <2>;
		#size-cells = <2>;
		ranges;
	};
};
"""

# The properties dmak.ko reads (dmak_read_props, dmak_ident_init,
# dmak_sg_clock_hz) and the ranges it accepts.
DRIVER_PROPS = {"xlnx,addrwidth", "xlnx,sg-length-width", "xlnx,datawidth",
                "xlnx,include-dre", "xlnx,name", "pydmak,sg-clock-hz",
                "memory-region"}
RANGES = {"xlnx,addrwidth": range(32, 65),
          "xlnx,sg-length-width": range(8, 27),
          "xlnx,datawidth": [8 << i for i in range(8)]}


# -- trees ------------------------------------------------------------------

def zynqmp_merged(overlay, tmp_path):
    """``overlay`` applied with fdtoverlay to a base with zynqmp.dtsi's
    labels: a tree as the board has it."""
    base = tmp_path / "zynqmp.dts"
    base.write_text(ZYNQMP_BASE)
    dtbo = compile_clean(overlay, tmp_path / (overlay.stem + ".dtbo"))
    merged = tmp_path / (overlay.stem + ".merged.dtb")
    res = subprocess.run(["fdtoverlay", "-i",
                          str(compile_clean(base, tmp_path / "zynqmp.dtb")),
                          "-o", str(merged), str(dtbo)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return Fdt(merged)


def qemu_virt_dts(tmp_path):
    """QEMU virt's own tree, dumped and decompiled, as the arm64 guest's
    runner makes it."""
    qemu = shutil.which("qemu-system-aarch64")
    assert qemu, "qemu-system-aarch64 is missing: run 'make deps'"
    dtb = tmp_path / "virt.dtb"
    subprocess.run([qemu, "-machine", f"virt,dumpdtb={dtb}", "-cpu", "max",
                    "-display", "none"], check=True, capture_output=True)
    res = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", str(dtb)],
                         check=True, capture_output=True, text=True)
    return res.stdout


def sim_merged(tmp_path):
    """virt's tree with dts/sim/dmak-sim.dtsi appended: (the compiled tree,
    dtc's warnings about virt alone, dtc's warnings with the fragment)."""
    virt = qemu_virt_dts(tmp_path)
    alone = tmp_path / "virt.dts"
    alone.write_text(virt)
    board = tmp_path / "board.dts"
    board.write_text(virt + SIM_DTSI.read_text())
    before = dtc(alone, tmp_path / "virt.dtb2")
    after = dtc(board, tmp_path / "board.dtb")
    assert before.returncode == 0 and after.returncode == 0, after.stderr
    return (Fdt(tmp_path / "board.dtb"), _warnings(before.stderr),
            _warnings(after.stderr))


def _warnings(stderr):
    """dtc's warnings without the file name: 'LINE.COL: Warning ...'."""
    return [line.split(":", 1)[1] for line in stderr.splitlines()]


def dma_nodes(fdt):
    """The nodes dmak.ko would bind."""
    match = set(driver_reads()["compatible"])
    return [n for n in fdt.walk() if match & set(fdt.compatible(n))]


def interrupt_cells(fdt, node):
    """#interrupt-cells of ``node``'s interrupt parent, found as the
    kernel finds it (of_irq_find_parent)."""
    phandles = fdt.phandles()
    while True:
        if fdt.has(node, "interrupt-parent"):
            node = phandles[fdt.u32(node, "interrupt-parent")[0]]
        else:
            node = node.rsplit("/", 1)[0] or "/"
        if fdt.has(node, "#interrupt-cells"):
            return fdt.u32(node, "#interrupt-cells")[0]
        assert node != "/" or fdt.has(node, "interrupt-parent"), \
            "no interrupt parent"


def clock_specifiers(fdt, node):
    """How many clocks ``node``'s clocks property holds."""
    cells, phandles, n = fdt.u32(node, "clocks"), fdt.phandles(), 0
    while cells:
        provider = phandles[cells[0]]
        cells = cells[1 + fdt.u32(provider, "#clock-cells")[0]:]
        n += 1
    return n


def check_dma_node(fdt, node):
    """Asserts dmak.ko finds in ``node`` all it needs, in range. Returns
    where it takes the interrupts from: "node" or "children"."""
    reads = driver_reads()
    props = fdt.props(node)
    children = {c: node + "/" + c for c in fdt.children(node)}
    chans = {c: p for c, p in children.items()
             if set(fdt.compatible(p)) & set(reads["chan_compatible"])}
    for path in children.values():
        for compat in fdt.compatible(path):
            if compat.startswith("xlnx,axi-dma-"):
                assert compat in reads["chan_compatible"], (path, compat)
    assert len(fdt.u32(node, "reg")) in (2, 4), f"{node}: one reg entry"

    for prop, allowed in RANGES.items():
        for path in [node] + list(chans.values()):
            if fdt.has(path, prop):
                value, = fdt.u32(path, prop)
                assert value in allowed, (path, prop, value)
    assert fdt.has(node, "xlnx,name") or fdt.labels().get(node), \
        f"{node}: neither xlnx,name nor a label names it"

    cells = interrupt_cells(fdt, node)
    if "interrupt-names" in props:
        names = fdt.strings(node, "interrupt-names")
        assert names and set(names) <= set(reads["irq_names"]), names
        assert len(set(names)) == len(names)
        assert len(fdt.u32(node, "interrupts")) == len(names) * cells
        source = "node"
    else:
        assert chans, f"{node}: no interrupts named, no channel children"
        for path in chans.values():
            assert len(fdt.u32(path, "interrupts")) == \
                interrupt_cells(fdt, path), path
        source = "children"

    if "clock-names" in props:
        names = fdt.strings(node, "clock-names")
        assert set(names) <= set(reads["clk_names"]), names
        assert len(set(names)) == len(names)
        assert clock_specifiers(fdt, node) == len(names)
    else:
        assert "clocks" not in props, f"{node}: clocks without names"
    return source


# -- compiling ----------------------------------------------------------------

def test_there_are_sources():
    names = {p.name for p in SOURCES}
    assert {"zynqmp-axi-dma.dtso", "zynqmp-pydmak-axi-dma.dtso"} <= names
    assert SIM_DTSI.is_file()


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.name)
def test_source_compiles_without_warnings(src, tmp_path):
    compile_clean(src, tmp_path / "out.dtb")


def test_sim_fragment_compiles_without_warnings(tmp_path):
    """The fragment alone, under a root with virt's address cells."""
    src = tmp_path / "root.dts"
    src.write_text("/dts-v1/;\n/ {\n\t#address-cells = <2>;\n"
                   "\t#size-cells = <2>;\n};\n" + SIM_DTSI.read_text())
    compile_clean(src, tmp_path / "root.dtb")


def test_sim_fragment_merges_into_qemu_virt_without_new_warnings(tmp_path):
    fdt, before, after = sim_merged(tmp_path)
    assert after == before          # virt's own warnings, none of ours
    assert "dmak-sim" in fdt.children("/")
    labels = fdt.labels()
    assert labels["/dmak-sim/dma@a0000000"] == ["axi_dma_0"]
    assert labels["/dmak-sim/dma@a0010000"] == ["axi_dma_1"]


def test_overlays_apply_to_a_zynqmp_base(tmp_path):
    for overlay in OVERLAYS:
        fdt = zynqmp_merged(overlay, tmp_path)
        assert fdt.children("/axi") == ["dma@a0000000"], overlay.name
        assert fdt.labels()["/axi/dma@a0000000"] == ["axi_dma_0"]


# -- against the driver -------------------------------------------------------

def test_driver_source_parses_to_what_it_reads():
    reads = driver_reads()
    assert reads["compatible"] == ["pydmak,axi-dma", "xlnx,axi-dma-1.00.a"]
    assert reads["props"] == DRIVER_PROPS
    assert reads["irq_names"] == ["mm2s_introut", "s2mm_introut"]
    assert sorted(reads["clk_names"]) == sorted([
        "s_axi_lite_aclk", "m_axi_mm2s_aclk", "m_axi_s2mm_aclk",
        "m_axi_sg_aclk"])
    assert reads["chan_compatible"] == ["xlnx,axi-dma-mm2s-channel",
                                        "xlnx,axi-dma-s2mm-channel"]


def test_generator_overlay_is_as_vivado_writes_it(tmp_path):
    fdt = zynqmp_merged(DTS / "zynqmp-axi-dma.dtso", tmp_path)
    node = "/axi/dma@a0000000"
    assert dma_nodes(fdt) == [node]
    assert check_dma_node(fdt, node) == "node"
    assert fdt.compatible(node) == ["xlnx,axi-dma-7.1", "xlnx,axi-dma-1.00.a"]
    assert fdt.strings(node, "interrupt-names") == ["mm2s_introut",
                                                    "s2mm_introut"]
    assert fdt.u32(node, "interrupts") == [0, 89, 4, 0, 90, 4]
    assert fdt.strings(node, "clock-names") == [
        "s_axi_lite_aclk", "m_axi_mm2s_aclk", "m_axi_s2mm_aclk",
        "m_axi_sg_aclk"]
    assert fdt.u32(node, "reg") == [0, 0xa0000000, 0, 0x10000]
    assert fdt.u32(node, "xlnx,addrwidth") == [40]
    assert fdt.u32(node, "xlnx,sg-length-width") == [26]
    assert fdt.has(node, "xlnx,include-sg")
    chans = {c: fdt.compatible(f"{node}/{c}") for c in fdt.children(node)}
    assert chans == {
        "dma-channel@a0000000": ["xlnx,axi-dma-mm2s-channel"],
        "dma-channel@a0000030": ["xlnx,axi-dma-s2mm-channel"]}
    for child, irq in (("dma-channel@a0000000", 89),
                       ("dma-channel@a0000030", 90)):
        path = f"{node}/{child}"
        assert fdt.u32(path, "interrupts") == [0, irq, 4]
        assert fdt.u32(path, "xlnx,datawidth") == [32]
        assert fdt.u32(path, "xlnx,device-id") == [0]


def test_pydmak_overlay_is_minimal_and_complete(tmp_path):
    fdt = zynqmp_merged(DTS / "zynqmp-pydmak-axi-dma.dtso", tmp_path)
    node = "/axi/dma@a0000000"
    assert dma_nodes(fdt) == [node]
    assert check_dma_node(fdt, node) == "node"
    assert fdt.compatible(node) == ["pydmak,axi-dma"]
    assert fdt.children(node) == []


def test_sim_fragment_has_a_direct_and_an_sg_ip(tmp_path):
    fdt, _, _ = sim_merged(tmp_path)
    direct, sg = "/dmak-sim/dma@a0000000", "/dmak-sim/dma@a0010000"
    assert dma_nodes(fdt) == [direct, sg]
    assert fdt.compatible("/dmak-sim") == ["pydmak,axi-dma-sim"]
    assert fdt.u32("/dmak-sim", "#interrupt-cells") == [1]

    # direct: interrupts named in the node, named by its label only
    assert check_dma_node(fdt, direct) == "node"
    assert fdt.compatible(direct) == ["pydmak,axi-dma"]
    assert not fdt.has(direct, "xlnx,name")
    assert not fdt.has(direct, "xlnx,include-sg")
    assert not fdt.has(direct, "clocks")
    # its own CMA pool, below 4 GiB as its 32-bit masters need
    pool = fdt.phandles()[fdt.u32(direct, "memory-region")[0]]
    assert pool.startswith("/reserved-memory/")
    assert fdt.compatible(pool) == ["shared-dma-pool"]
    assert fdt.has(pool, "reusable") and not fdt.has(pool, "no-map")
    hi, lo, size_hi, size_lo = fdt.u32(pool, "reg")
    assert (hi << 32 | lo) + (size_hi << 32 | size_lo) <= 1 << 32
    assert not fdt.has(sg, "memory-region")
    # the board's default CMA area, above 4 GiB, for the 40-bit SG IP
    default = [n for n in fdt.children("/reserved-memory")
               if fdt.has(f"/reserved-memory/{n}", "linux,cma-default")]
    assert len(default) == 1
    hi, lo, _, _ = fdt.u32(f"/reserved-memory/{default[0]}", "reg")
    assert hi << 32 | lo >= 1 << 32

    # SG as the generator writes it, the interrupts only in the children
    assert check_dma_node(fdt, sg) == "children"
    assert fdt.compatible(sg) == ["xlnx,axi-dma-7.1", "xlnx,axi-dma-1.00.a"]
    assert fdt.has(sg, "xlnx,include-sg")
    assert not fdt.has(sg, "interrupts")
    clk = fdt.phandles()[fdt.u32(sg, "clocks")[0]]
    assert fdt.compatible(clk) == ["fixed-clock"]
    # every line its own
    lines = fdt.u32(direct, "interrupts") + [
        fdt.u32(f"{sg}/{c}", "interrupts")[0] for c in fdt.children(sg)]
    assert sorted(lines) == [0, 1, 2, 3]


# -- the binding (dt-schema) --------------------------------------------------

def _tool(name):
    path = VENV_BIN / name
    assert path.exists(), f"{name} is missing: run 'make deps' (dtschema)"
    return str(path)


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    """The binding processed by dt-mk-schema (with dt-schema's core)."""
    out = tmp_path_factory.mktemp("schema") / "schema.json"
    subprocess.run([_tool("dt-mk-schema"), "-j", "-o", str(out),
                    str(BINDING.parent)], check=True, capture_output=True)
    return out


def validate(schema, dtb):
    """dt-validate's complaints about nodes our binding matches (it exits
    0 either way)."""
    res = subprocess.run([_tool("dt-validate"), "-s", str(schema), "-l",
                          "pydmak,axi-dma", str(dtb)],
                         capture_output=True, text=True)
    return (res.stdout + res.stderr).strip()


def test_binding_is_valid_dt_schema():
    res = subprocess.run([_tool("dt-doc-validate"), "-u", str(BINDING.parent),
                          str(BINDING)], capture_output=True, text=True)
    assert res.returncode == 0 and not res.stderr.strip(), res.stderr


def _examples(tmp_path):
    res = subprocess.run([_tool("dt-extract-example"), str(BINDING)],
                         check=True, capture_output=True, text=True)
    src = tmp_path / "examples.dts"
    src.write_text(res.stdout)
    return src


def test_binding_examples_validate(schema, tmp_path):
    # the extractor's own stand-in interrupt controller has no
    # #address-cells: dtc's interrupt_provider check is for it
    res = dtc(_examples(tmp_path), tmp_path / "ex.dtb",
              "-Wno-interrupt_provider")
    assert res.returncode == 0 and not res.stderr, res.stderr
    assert validate(schema, tmp_path / "ex.dtb") == ""


def test_binding_rejects_a_bad_node(schema, tmp_path):
    """The check above can fail."""
    src = _examples(tmp_path)
    src.write_text(src.read_text().replace("xlnx,addrwidth = <32>",
                                           "xlnx,addrwidth = <16>"))
    res = dtc(src, tmp_path / "bad.dtb", "-Wno-interrupt_provider")
    assert res.returncode == 0, res.stderr
    assert "xlnx,addrwidth: 16 is less than the minimum of 32" in \
        validate(schema, tmp_path / "bad.dtb")


def test_our_nodes_validate_against_the_binding(schema, tmp_path):
    fdt = zynqmp_merged(DTS / "zynqmp-pydmak-axi-dma.dtso", tmp_path)
    assert validate(schema, fdt.path) == ""
    board, _, _ = sim_merged(tmp_path)
    assert validate(schema, board.path) == ""


def test_binding_documents_what_the_driver_reads():
    text = BINDING.read_text()
    reads = driver_reads()
    for name in (sorted(reads["props"]) + reads["irq_names"]
                 + reads["clk_names"] + reads["chan_compatible"]):
        assert name in text, name
