"""Helpers of tests/host/test_devicetree.py: dtc and a compiled tree read
through fdtget, and what dmak.ko reads from a node, parsed from its
source in kmod/."""

import pathlib
import re
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]
DTS = REPO / "dts"
# Symbols for the label lookup and for overlays; the generator writes
# dma-channel@<addr> children without reg.
DTC_FLAGS = ("-@", "-Wno-unit_address_vs_reg")


def dtc(src, out, *flags):
    """Compiles ``src`` (a .dts/.dtso path) into ``out``; the result."""
    return subprocess.run(["dtc", *DTC_FLAGS, *flags, "-I", "dts",
                           "-O", "dtb", "-o", str(out), str(src)],
                          capture_output=True, text=True)


def compile_clean(src, out):
    """Compiles ``src`` and asserts dtc succeeded and warned of nothing."""
    res = dtc(src, out)
    assert res.returncode == 0, res.stderr
    assert res.stderr == "", res.stderr
    return out


class Fdt:
    """A compiled device tree, read with fdtget."""

    def __init__(self, path):
        self.path = str(path)

    def _get(self, *args):
        res = subprocess.run(["fdtget", self.path, *args],
                             capture_output=True, text=True)
        assert res.returncode == 0, f"fdtget {args}: {res.stderr}"
        return res.stdout

    def children(self, node):
        """The names of ``node``'s subnodes."""
        return self._get("-l", node).split()

    def props(self, node):
        """The names of ``node``'s properties."""
        return self._get("-p", node).split()

    def has(self, node, prop):
        return prop in self.props(node)

    def u32(self, node, prop):
        """A property as a list of cells."""
        return [int(v) for v in self._get("-t", "u", node, prop).split()]

    def strings(self, node, prop):
        """A string-list property (its strings hold no spaces)."""
        return self._get("-t", "s", node, prop).split()

    def walk(self, node="/"):
        """Every node path under ``node``, ``node`` first."""
        yield node
        for child in self.children(node):
            yield from self.walk(node.rstrip("/") + "/" + child)

    def phandles(self):
        """phandle -> node path."""
        return {self.u32(n, "phandle")[0]: n for n in self.walk()
                if self.has(n, "phandle")}

    def labels(self):
        """node path -> its labels (/__symbols__)."""
        out = {}
        if "__symbols__" in self.children("/"):
            for label in self.props("/__symbols__"):
                path = self.strings("/__symbols__", label)[0]
                out.setdefault(path, []).append(label)
        return out

    def compatible(self, node):
        return self.strings(node, "compatible") if self.has(
            node, "compatible") else []


# -- what the driver reads, from its source -------------------------------

DRIVER_SOURCES = ("dmak_main.c", "dmak_props.h", "dmak_sg.c", "dmak_ident.c",
                  "dmak_rmem.c")


def _source():
    return "\n".join((REPO / "kmod" / f).read_text() for f in DRIVER_SOURCES)


def _array(name):
    """The strings of the C array ``name`` in the driver's source."""
    m = re.search(rf"\b{name}\[[^\]]*\]\s*=\s*\{{(.*?)\}};", _source(),
                  re.S)
    assert m, f"no array {name} in kmod/{DRIVER_SOURCES}"
    return re.findall(r'"([^"]+)"', m.group(1))


def driver_reads():
    """What dmak.ko looks for in a node: compatibles it matches, the
    properties it reads, interrupt names, clock names and the compatibles
    of dma-channel children."""
    src = _source()
    match = re.search(r"dmak_of_match\[\]\s*=\s*\{(.*?)\};", src, re.S)
    assert match, "no dmak_of_match in kmod/dmak_main.c"
    chans = _array("dmak_chan_compatible")
    props = set(re.findall(r'"((?:xlnx|pydmak),[a-z0-9-]+)"', src))
    props |= set(re.findall(r'of_find_property\([^,]+,\s*"([a-z0-9-]+)"',
                            src))
    props -= set(chans)
    props -= set(re.findall(r'"([^"]+)"', match.group(1)))
    return {
        "compatible": re.findall(r'"([^"]+)"', match.group(1)),
        "props": props,
        "irq_names": _array("dmak_irq_names"),
        "clk_names": _array("dmak_clk_names"),
        "chan_compatible": chans,
    }
