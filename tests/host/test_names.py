"""Finding a device by name, node name, base address, index or path,
against a fake sysfs tree."""

import errno

import pytest

import pydmak
from pydmak import device as _device


def _add(sysfs, index, name=None, node=None, base=None,
         compatible="xlnx,axi-dma-7.1 xlnx,axi-dma-1.00.a",
         features="mm2s s2mm"):
    d = sysfs / f"dmak{index}"
    d.mkdir()
    for attr, value in (("name", name), ("node", node), ("base", base),
                        ("compatible", compatible),
                        ("features", features)):
        if value is not None:
            (d / attr).write_text(value + "\n")


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """Two devices: axi_dma_0 (direct) and axi_dma_1 (SG), a third with
    no memory resource."""
    sysfs, dev = tmp_path / "sys", tmp_path / "dev"
    sysfs.mkdir()
    dev.mkdir()
    _add(sysfs, 0, "axi_dma_0", "dma@40400000", "0x40400000")
    _add(sysfs, 1, "axi_dma_1", "dma@40410000", "0x40410000",
         features="mm2s s2mm sg")
    _add(sysfs, 10, "capture", "dma@a0000000", None, compatible="")
    monkeypatch.setattr(_device, "SYSFS_CLASS", str(sysfs))
    monkeypatch.setattr(_device, "DEV_DIR", str(dev))
    return dev


def test_devices_lists_names_in_index_order(tree):
    found = pydmak.devices()
    assert [e.index for e in found] == [0, 1, 10]
    first = found[0]
    assert first == pydmak.DeviceEntry(
        path=str(tree / "dmak0"), index=0, name="axi_dma_0",
        node="dma@40400000", base=0x40400000,
        compatible=("xlnx,axi-dma-7.1", "xlnx,axi-dma-1.00.a"), sg=False)
    assert first.mode == "direct"
    assert found[1].sg is True and found[1].mode == "sg"
    assert found[2].base is None and found[2].compatible == ()
    assert str(first) == f"axi_dma_0 @ 0x40400000 -> {tree / 'dmak0'}"
    with pytest.raises(AttributeError):
        first.name = "x"        # frozen


def test_device_file_without_sysfs_is_listed(tree):
    (tree / "dmak3").write_text("")
    entry = [e for e in pydmak.devices() if e.index == 3][0]
    assert entry.path == str(tree / "dmak3")
    assert (entry.name, entry.base, entry.sg) == (None, None, None)


@pytest.mark.parametrize("spec, index", [
    ("axi_dma_1", 1), ("axi_dma_0", 0), ("dma@40410000", 1),
    ("capture", 10), ("dma@a0000000", 10),
    (0x40410000, 1), (0x40400000, 0),
    (0, 0), (1, 1), (5, 5), (0xFFF, 0xFFF),
])
def test_resolve(tree, spec, index):
    assert _device._resolve(spec) == str(tree / f"dmak{index}")


def test_resolve_entry_and_path(tree):
    entry = pydmak.devices()[1]
    assert _device._resolve(entry) == entry.path
    assert _device._resolve("/dev/dmak7") == "/dev/dmak7"
    assert _device._resolve("./dmak7") == "./dmak7"


def test_name_beats_node_name(tree, monkeypatch):
    sysfs = tree.parent / "sys"
    _add(sysfs, 2, "dma@40400000", "dma@50000000", "0x50000000")
    assert _device._resolve("dma@40400000") == str(tree / "dmak2")


@pytest.mark.parametrize("spec, text", [
    ("axi_dma_9", "named 'axi_dma_9'"),
    (0x40420000, "at base address 0x40420000"),
    (0x1000, "at base address 0x1000"),
])
def test_unknown_name_or_address_lists_the_devices(tree, spec, text):
    with pytest.raises(pydmak.DeviceNotFoundError) as exc:
        pydmak.Device(spec)
    msg = str(exc.value)
    assert exc.value.errno == errno.ENOENT
    assert text in msg
    assert f"axi_dma_0 @ 0x40400000 -> {tree / 'dmak0'}" in msg
    assert f"axi_dma_1 @ 0x40410000 -> {tree / 'dmak1'}" in msg
    assert f"capture @ no base -> {tree / 'dmak10'}" in msg


def test_dma_takes_a_name_too(tree):
    with pytest.raises(pydmak.DeviceNotFoundError, match="present: "):
        pydmak.DMA("nothing_here")


def test_ambiguous_name_says_so(tree):
    _add(tree.parent / "sys", 2, "axi_dma_1", "dma@50000000", "0x50000000")
    with pytest.raises(ValueError, match="2 dmak devices are named"):
        _device._resolve("axi_dma_1")


def test_no_device_at_all_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(_device, "SYSFS_CLASS", str(tmp_path / "none"))
    monkeypatch.setattr(_device, "DEV_DIR", str(tmp_path))
    with pytest.raises(pydmak.DeviceNotFoundError, match="modprobe"):
        pydmak.Device("axi_dma_0")
    with pytest.raises(pydmak.DeviceNotFoundError, match="modprobe"):
        pydmak.Device(0x40400000)


@pytest.mark.parametrize("bad, exc, text", [
    (-1, ValueError, "negative"),
    ("", ValueError, "not empty"),
    (1.5, TypeError, "base address"),
    (True, TypeError, "base address"),
    (b"axi_dma_0", TypeError, "not bytes"),
])
def test_bad_specs(tree, bad, exc, text):
    with pytest.raises(exc, match=text):
        _device._resolve(bad)


def test_base_rule_boundary():
    assert _device.BASE_MIN == 0x1000
