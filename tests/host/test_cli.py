"""The pydmak command without a device: arguments, output shapes, exit
statuses. The VM tier runs it against the simulated IP."""

import argparse
import io
import json
import pathlib
import subprocess
import sys

import pytest

from fakes import FakeDevice
from pydmak import _uapi
from pydmak.cli import args as cli_args
from pydmak.cli import build_parser, info, main, regs
from pydmak.cli.output import print_table, size_text
from pydmak.cli.progress import Progress
from pydmak.device import DeviceInfo

REPO = pathlib.Path(__file__).resolve().parents[2]
DOCS = (REPO / "docs" / "cli.md").read_text()

INFO_KEYS = {"pydmak_version", "module_version", "devices"}
DEVICE_KEYS = {"path", "abi_version", "mode", "channels", "length_width",
               "addr_width", "data_width", "dre", "alignment", "ring_size",
               "desc_max", "max_transfer", "delay_unit_ns", "buffer_quota",
               "buffers", "name", "node", "base", "compatible"}
SG = DeviceInfo(abi_version=_uapi.ABI_VERSION, mm2s=True, s2mm=True,
                sg=True, dre=False, length_width=14, addr_width=64,
                data_width=64, ring_size=256, max_transfer=16320 * 256,
                buf_quota=512 << 20, buf_used=0, desc_max=16320,
                delay_unit_ns=1250)


# -- arguments ---------------------------------------------------------------

@pytest.mark.parametrize("text, want", [
    ("0", 0), ("12", 12), ("/dev/dmak1", "/dev/dmak1"),
    ("dmak-adc", "dmak-adc"), ("./dev", "./dev"),
    ("axi_dma_0", "axi_dma_0"), ("dma@40400000", "dma@40400000"),
    ("0x40400000", 0x40400000), ("0X4041000a", 0x4041000A),
])
def test_device_argument_is_an_index_or_passed_on(text, want):
    assert cli_args.device_arg(text) == want
    assert type(cli_args.device_arg(text)) is type(want)


@pytest.mark.parametrize("text", ["-1", ""])
def test_device_argument_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError):
        cli_args.device_arg(text)


@pytest.mark.parametrize("text, want", [
    ("4096", 4096), ("4K", 4096), ("64k", 65536), ("1M", 1 << 20),
    ("2MiB", 2 << 20), ("1G", 1 << 30),
])
def test_sizes(text, want):
    assert cli_args.size_arg(text) == want


def test_size_lists():
    assert cli_args.sizes_arg("4K,64K,1M") == [4096, 65536, 1 << 20]


@pytest.mark.parametrize("text", ["0", "-4", "4X", "K", "1.5M", ""])
def test_bad_sizes(text):
    with pytest.raises(argparse.ArgumentTypeError):
        cli_args.size_arg(text)


def test_parsed_commands():
    parser = build_parser()
    a = parser.parse_args(["info"])
    assert (a.command, a.device, a.json) == ("info", None, False)
    a = parser.parse_args(["info", "1", "--json"])
    assert (a.device, a.json) == (1, True)
    a = parser.parse_args(["bench", "/dev/dmak2", "--sizes", "4K,1M",
                           "--time", "0.25", "--depth", "8",
                           "--round-trips", "10", "--latency-size", "1K"])
    assert (a.device, a.sizes, a.time, a.depth, a.round_trips,
            a.latency_size) == ("/dev/dmak2", [4096, 1 << 20], 0.25, 8, 10,
                                1024)
    a = parser.parse_args(["bench"])
    assert (a.device, a.sizes, a.time, a.depth, a.round_trips,
            a.latency_size, a.json) == (None, None, 1.0, 4, 1000, 64, False)
    a = parser.parse_args(["reset", "0"])
    assert (a.command, a.device) == ("reset", 0)
    assert parser.parse_args(["demo"]).device is None
    assert parser.parse_args(["demo", "3"]).device == 3


@pytest.mark.parametrize("argv", [
    [], ["frobnicate"], ["reset"], ["reset", "0", "1"], ["info", "-1"],
    ["bench", "--time", "0"], ["bench", "--time", "x"],
    ["bench", "--depth", "0"], ["bench", "--round-trips", "-5"],
    ["bench", "--sizes", "4K,,1M"], ["info", "--bogus"],
    ["demo", "--json"],
])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: pydmak")


def test_help_exits_0(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("info", "demo", "bench", "reset"):
        assert command in out


# -- no device present: one line on stderr, exit status 1 ---------------------

@pytest.mark.parametrize("argv, missing", [
    (["info"], "/dev/dmak* is absent"),
    (["info", "--json"], "/dev/dmak* is absent"),
    (["info", "2"], "/dev/dmak2"),
    (["bench"], "/dev/dmak* is absent"),
    (["bench", "0", "--json"], "/dev/dmak0"),
    (["bench", "/dev/dmak5"], "/dev/dmak5"),
    (["reset", "0"], "/dev/dmak0"),
    (["reset", "0", "--json"], "/dev/dmak0"),
    (["demo"], "/dev/dmak* is absent"),
    (["demo", "1"], "/dev/dmak1"),
])
def test_missing_device_exits_1_with_one_line(argv, missing, capsys):
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"pydmak {argv[0]}: no dmak device")
    assert missing in err
    assert "modprobe dmak" in err            # the module is not loaded


@pytest.mark.parametrize("cmd", [
    [sys.executable, "-m", "pydmak"],
    [str(pathlib.Path(sys.executable).with_name("pydmak"))],
])
def test_command_runs_as_a_program(cmd):
    res = subprocess.run(cmd + ["info", "--json"], capture_output=True,
                         text=True)
    assert res.returncode == 1
    assert res.stdout == ""
    assert len(res.stderr.splitlines()) == 1
    assert "no dmak device" in res.stderr
    res = subprocess.run(cmd + ["reset"], capture_output=True, text=True)
    assert res.returncode == 2
    res = subprocess.run(cmd + ["--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "usage: pydmak" in res.stdout


# -- info output, from a fake device ------------------------------------------

@pytest.fixture
def fake_info(monkeypatch):
    """info sees one SG device, /dev/dmakF, holding 2 buffers of 8 KiB."""
    monkeypatch.setattr(info, "devices", lambda: ["/dev/dmakF"])
    monkeypatch.setattr(info, "Device", lambda target: FakeDevice(SG))
    monkeypatch.setattr(info, "live_buffers", lambda path: (2, 8192))
    monkeypatch.setattr(info, "identity", lambda path: {
        "name": "axi_dma_3", "node": "dma@40430000", "base": 0x40430000,
        "compatible": ["xlnx,axi-dma-7.1", "xlnx,axi-dma-1.00.a"]})
    monkeypatch.setattr(info, "module_version", lambda: "9.9.9")


def test_info_json_shape(fake_info, capsys):
    assert main(["info", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == INFO_KEYS
    assert report["module_version"] == "9.9.9"
    import pydmak
    assert report["pydmak_version"] == pydmak.__version__
    (dev,) = report["devices"]
    assert set(dev) == DEVICE_KEYS
    assert dev == {
        "path": "/dev/dmakF", "name": "axi_dma_3", "node": "dma@40430000",
        "base": 0x40430000,
        "compatible": ["xlnx,axi-dma-7.1", "xlnx,axi-dma-1.00.a"],
        "abi_version": _uapi.ABI_VERSION,
        "mode": "sg", "channels": ["mm2s", "s2mm"], "length_width": 14,
        "addr_width": 64, "data_width": 64, "dre": False, "alignment": 8,
        "ring_size": 256, "desc_max": 16320, "max_transfer": 16320 * 256,
        "delay_unit_ns": 1250, "buffer_quota": 512 << 20,
        "buffers": {"count": 2, "bytes": 8192}}


def test_info_table(fake_info, capsys):
    assert main(["info"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("pydmak ") and "dmak module 9.9.9" in lines[0]
    assert lines[1].split()[:5] == ["DEVICE", "NAME", "BASE", "MODE",
                                    "CHANNELS"]
    row = lines[2].split()
    assert row[:5] == ["/dev/dmakF", "axi_dma_3", "0x40430000", "sg",
                       "mm2s,s2mm"]
    assert str(16320 * 256) in row and "256" in row and "16320" in row
    assert "512 MiB" in lines[2] and "2 (8 KiB)" in lines[2]


class RegsDevice(FakeDevice):
    """A direct-mode IP with MM2S only: DMACR, DMASR, SA, LENGTH."""

    def registers(self):
        words = [0] * _uapi.REGS_WORDS
        words[0x00 // 4] = 0x00010002       # IRQThreshold 1, bit 1
        words[0x04 // 4] = 0x00010001       # Halted, threshold 1
        words[0x18 // 4] = 0x1000
        words[0x28 // 4] = 4096
        present = sum(1 << (off // 4) for off in (0x00, 0x04, 0x18, 0x28))
        return present, tuple(words)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


@pytest.fixture
def fake_regs(monkeypatch):
    direct = DeviceInfo(**{**SG.__dict__, "sg": False, "s2mm": False,
                           "addr_width": 32, "ring_size": 0,
                           "desc_max": 0})
    monkeypatch.setattr(regs, "devices", lambda: ["/dev/dmakF"])
    monkeypatch.setattr(regs, "Device", lambda target: RegsDevice(direct))


def test_regs_json(fake_regs, capsys):
    assert main(["regs", "--json"]) == 0
    (dev,) = json.loads(capsys.readouterr().out)["devices"]
    assert dev["mode"] == "direct"
    by_name = {r["name"]: r for r in dev["registers"]}
    assert by_name["MM2S_DMASR"]["value"] == 0x00010001
    assert by_name["MM2S_DMASR"]["fields"]["Halted"] == 1
    assert by_name["MM2S_DMASR"]["fields"]["IRQThresholdSts"] == 1
    assert by_name["MM2S_LENGTH"]["fields"]["Length"] == 4096
    assert "scatter-gather" in by_name["MM2S_CURDESC"]["absent"]
    assert by_name["S2MM_DMACR"]["absent"]
    assert [r["offset"] for r in dev["registers"]] == sorted(
        r["offset"] for r in dev["registers"])


def test_regs_table(fake_regs, capsys):
    assert main(["regs", "0"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "/dev/dmakF (direct):"
    line = next(x for x in out.splitlines() if "MM2S_DMASR" in x)
    assert "0x04" in line and "0x00010001" in line and "Halted=1" in line
    line = next(x for x in out.splitlines() if "S2MM_DMASR" in x)
    assert "-" in line and "(" in line


def test_live_buffers_of_a_missing_device_are_unknown():
    assert info.live_buffers("/nonexistent/dmak0") is None


def test_every_json_key_is_documented():
    for key in INFO_KEYS | DEVICE_KEYS | {
            "throughput", "latency", "bytes", "transfers", "mb_per_s",
            "us_per_transfer", "round_trips", "median_us", "p99_us",
            "error_before", "queued_before", "error", "queued",
            "registers", "offset", "value", "fields", "absent"}:
        assert f"`{key}`" in DOCS, key


# -- output helpers ---------------------------------------------------------

def test_sizes_text():
    assert [size_text(n) for n in (1, 1023, 4096, 1 << 20, 3 << 30, 1536)] \
        == ["1 B", "1023 B", "4 KiB", "1 MiB", "3 GiB", "1536 B"]


def test_table_pads_columns():
    out = io.StringIO()
    print_table(["A", "LONG"], [["xyz", 1], ["q", 1234]], right=(1,),
                out=out)
    assert out.getvalue().splitlines() == [
        "A    LONG", "xyz     1", "q    1234"]


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal():
    plain = io.StringIO()
    with Progress(2, stream=plain) as bar:
        bar.update(1, "half")
        bar.update(2, "all")
    assert plain.getvalue() == ""
    tty = _Tty()
    with Progress(2, stream=tty) as bar:
        bar.update(1, "half")
        assert "50% half" in tty.getvalue() and "#" in tty.getvalue()
        bar.update(2, "all")                # the end is always drawn
        assert "100% all" in tty.getvalue()
    assert tty.getvalue().endswith("\r")    # erased at the end


def test_demo_module_takes_the_same_device_argument(capsys):
    from pydmak import demo
    assert demo.main(["0"]) == 1
    assert "no dmak device /dev/dmak0:" in capsys.readouterr().err
    assert demo.main(["-3"]) == 2
    assert "negative" in capsys.readouterr().err
    assert demo.main(["0", "1"]) == 2
