"""The pydmak command against the simulated IP: info (against sysfs and
INFO), bench, reset after an injected fault, demo, and a missing device
while the module is loaded. dmak0 is direct, dmak1 scatter-gather.

Most tests call ``pydmak.cli.main`` in this process (it opens its own
files of the devices, as the program would); the program itself runs as
``python -m pydmak``, as the console script, and on a terminal."""

import json
import os
import pathlib
import select
import subprocess
import sys

import numpy as np
import pytest

import pydmak
from conftest import (REPO, assert_buffers_returned, live_buffers,
                      sim_fault, sysfs_attr, with_modules)
from pydmak import _uapi
from pydmak.cli import main

VERSION = (REPO / "VERSION").read_text().strip()
LENGTH_WIDTH = 16
PYDMAK = [sys.executable, "-m", "pydmak"]


@pytest.fixture(scope="module", autouse=True)
def two_instances():
    """dmak0 direct and dmak1 SG; the default load again afterwards."""
    yield from with_modules(["instances=2", "sg=0,1",
                             f"length_width={LENGTH_WIDTH}"])


@pytest.fixture(autouse=True)
def clean():
    """Faults cleared and every buffer back after each test."""
    yield
    for index in (0, 1):
        sim_fault("clear", index)
    assert_buffers_returned(0, 1)


@pytest.fixture
def cli(capsys):
    """Runs the command line in this process: ``cli(*args, rc=0)`` checks
    the exit status and returns ``(stdout, stderr)``."""
    def run(*args, rc=0):
        capsys.readouterr()
        got = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert got == rc, out + err
        return out, err
    return run


def _sysfs_view(index):
    features = sysfs_attr("features", index).split()
    count, nbytes = live_buffers(index)
    return {
        "abi_version": int(sysfs_attr("abi_version", index)),
        "mode": "sg" if "sg" in features else "direct",
        "channels": [c for c in ("mm2s", "s2mm") if c in features],
        "dre": "dre" in features,
        "length_width": int(sysfs_attr("length_width", index)),
        "addr_width": int(sysfs_attr("addr_width", index)),
        "data_width": int(sysfs_attr("data_width", index)),
        "ring_size": int(sysfs_attr("ring_size", index)),
        "desc_max": int(sysfs_attr("desc_max", index)),
        "max_transfer": int(sysfs_attr("max_transfer", index)),
        "buffers": {"count": count, "bytes": nbytes},
    }


def test_info_json_matches_sysfs_and_info(cli):
    # A buffer held by this process shows in BUFFERS of dmak1.
    with pydmak.Device(1) as dev, \
            pydmak.allocate(3 << 12, "u1", device=dev):
        report = json.loads(cli("info", "--json")[0])
        assert live_buffers(1) == (1, 3 << 12)
        want = [_sysfs_view(0), _sysfs_view(1)]
    assert report["pydmak_version"] == pydmak.__version__ == VERSION
    assert report["module_version"] == VERSION
    assert [d["path"] for d in report["devices"]] == ["/dev/dmak0",
                                                      "/dev/dmak1"]
    for index, (got, sysfs) in enumerate(zip(report["devices"], want)):
        assert {k: got[k] for k in sysfs} == sysfs
        with pydmak.Device(index) as dev:
            info = dev.info
        assert got["alignment"] == info.alignment
        assert got["delay_unit_ns"] == info.delay_unit_ns
        assert got["buffer_quota"] == info.buf_quota == int(pathlib.Path(
            "/sys/module/dmak/parameters/buf_quota").read_text())
    direct, sg = report["devices"]
    assert (direct["mode"], direct["ring_size"], direct["max_transfer"]) \
        == ("direct", 0, (1 << LENGTH_WIDTH) - 1)
    assert (sg["mode"], sg["ring_size"]) == ("sg", 256)
    assert sg["max_transfer"] == sg["desc_max"] * 256
    assert direct["buffers"] == {"count": 0, "bytes": 0}
    assert sg["buffers"] == {"count": 1, "bytes": 3 << 12}


def test_info_table(cli):
    lines = cli("info")[0].splitlines()
    assert lines[0] == (f"pydmak {VERSION}, dmak module {VERSION}, ABI "
                        f"{sysfs_attr('abi_version')}")
    assert lines[1].split()[:5] == ["DEVICE", "NAME", "BASE", "MODE",
                                    "CHANNELS"]
    direct, sg = lines[2].split(), lines[3].split()
    assert direct[:5] == ["/dev/dmak0", "axi_dma_0", "0x40400000", "direct",
                          "mm2s,s2mm"]
    assert sg[:5] == ["/dev/dmak1", "axi_dma_1", "0x40410000", "sg",
                      "mm2s,s2mm"]
    assert sysfs_attr("max_transfer", 0) in direct
    assert sysfs_attr("max_transfer", 1) in sg
    assert sysfs_attr("desc_max", 1) in sg
    assert lines[2].endswith("0 (0 B)")


def test_info_of_one_device(cli):
    for dev in ("/dev/dmak1", "axi_dma_1", "0x40410000", "dma@40410000",
                "1"):
        report = json.loads(cli("info", dev, "--json")[0])
        (got,) = report["devices"]
        assert got["path"] == "/dev/dmak1"
        assert got["mode"] == "sg"
        assert (got["name"], got["node"], got["base"]) == (
            sysfs_attr("name", 1), sysfs_attr("node", 1), 0x40410000)
        assert got["compatible"] == sysfs_attr("compatible", 1).split()


def test_regs_match_the_register_map(cli):
    """``regs --json`` shows what ``register_map`` reads; absent registers
    say why; the SG IP shows SGIncld, the direct one its LENGTH."""
    report = json.loads(cli("regs", "--json")[0])
    direct, sg = report["devices"]
    for index, dev in ((0, direct), (1, sg)):
        with pydmak.DMA(index) as dma:
            snap = dma.register_map.snapshot()
        regs = {r["name"]: r for r in dev["registers"]}
        assert {n for n, r in regs.items() if "value" in r} == set(snap)
        for name, reg in snap.items():
            assert regs[name]["value"] == int(reg), name
            assert regs[name]["fields"] == reg.fields(), name
    assert {r["name"]: r for r in sg["registers"]}[
        "MM2S_DMASR"]["fields"]["SGIncld"] == 1
    assert "scatter-gather" in {r["name"]: r for r in direct["registers"]}[
        "MM2S_CURDESC"]["absent"]
    out = cli("regs", "axi_dma_1")[0].splitlines()
    assert out[0] == "/dev/dmak1 (sg):"
    line = next(x for x in out if x.split()[0] == "S2MM_DMASR")
    assert "SGIncld=1" in line and "0x34" in line


def test_the_program_and_the_console_script():
    res = subprocess.run(PYDMAK + ["info", "0", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["devices"][0]["path"] == "/dev/dmak0"
    script = pathlib.Path(sys.executable).with_name("pydmak")
    res = subprocess.run([script, "info", "7"], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "/dev/dmak7" in res.stderr


def test_missing_device_with_the_module_loaded(cli):
    out, err = cli("info", "7", rc=1)
    assert out == "" and err.count("\n") == 1
    assert "no dmak device /dev/dmak7: dmak is loaded but no AXI DMA " \
           "instance is bound" in err


@pytest.mark.parametrize("index", [0, 1])
def test_bench_json(cli, index):
    report = json.loads(cli("bench", index, "--time", "0.2",
                            "--round-trips", "50", "--json")[0])
    assert report["device"] == f"/dev/dmak{index}"
    assert report["mode"] == ("direct", "sg")[index]
    assert report["ok"] is True
    limit = int(sysfs_attr("max_transfer", index))
    want = [s for s in (4 << 10, 64 << 10, 1 << 20) if s <= limit]
    assert [r["bytes"] for r in report["throughput"]] == want
    for row in report["throughput"]:
        assert row["ok"] is True
        assert row["transfers"] >= 4 and row["transfers"] % 4 == 0
        assert row["seconds"] >= 0.2
        # rounded to 3 decimals (kB/s): slow guests see well under 1 MB/s
        assert row["mb_per_s"] == pytest.approx(
            row["transfers"] * row["bytes"] / row["seconds"] / 1e6,
            rel=1e-3, abs=5e-4)
    lat = report["latency"]
    assert (lat["bytes"], lat["round_trips"], lat["ok"]) == (64, 50, True)
    assert 0 < lat["min_us"] <= lat["median_us"] <= lat["p99_us"] \
        <= lat["max_us"]


def test_bench_table_and_sizes(cli):
    out, err = cli("bench", "1", "--sizes", "4K,256K", "--time", "0.2",
                   "--round-trips", "20", "--latency-size", "1K")
    lines = out.splitlines()
    assert lines[0].startswith("/dev/dmak1 (sg mode)")
    assert lines[1].split() == ["SIZE", "TRANSFERS", "MB/s", "us/TRANSFER",
                                "DATA"]
    for line, size in zip(lines[2:4], ("4 KiB", "256 KiB")):
        assert line.split()[:2] == size.split()
        assert float(line.split()[3]) > 0 and line.endswith("ok")
    assert "1 KiB send+receive" in lines[4] and "(20 times)" in lines[4]
    assert float(lines[6].split()[0]) > 0 and lines[6].endswith("ok")
    assert err == ""                    # not a terminal: no progress bar


def test_bench_draws_progress_on_a_terminal():
    master, slave = os.openpty()
    try:
        res = subprocess.run(
            PYDMAK + ["bench", "0", "--sizes", "4K", "--time", "0.5",
                      "--round-trips", "20"],
            stdout=subprocess.PIPE, stderr=slave, text=True, cwd=REPO,
            timeout=300)
        os.close(slave)
        slave = None
        drawn = b""
        while select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert res.returncode == 0
    assert b"throughput 4 KiB" in drawn and b"%" in drawn and b"\r" in drawn
    assert b"latency" in drawn
    assert "\r" not in res.stdout and "MB/s" in res.stdout


def test_bench_over_the_limit_and_on_a_fault(cli):
    out, err = cli("bench", "0", "--sizes", "1M", rc=1)
    assert out == "" and err.count("\n") == 1
    assert "more than one transfer may be" in err
    sim_fault("mm2s decerr", 0)
    out, err = cli("bench", "0", "--time", "0.1", rc=1)
    assert out == "" and err.count("\n") == 1
    # The first transfer fails on DMADecErr; a request queued after that
    # is refused because the channel halted.
    assert "DMADecErr" in err or "halted" in err
    assert "pydmak reset 0" in err
    # bench's file closed with its receive running: the driver reset the
    # core then. A reset from the command line finds both channels well.
    report = json.loads(cli("reset", "0", "--json")[0])
    assert report["device"] == "/dev/dmak0"
    assert report["channels"] == [
        {"name": name, "error_before": None, "queued_before": 0,
         "error": None, "queued": 0} for name in ("mm2s", "s2mm")]
    with pydmak.DMA(0) as dma:
        _loop(dma)


def _loop(dma, nbytes=4096):
    with pydmak.allocate(nbytes, "u1", device=dma.device) as src, \
            pydmak.allocate(nbytes, "u1", device=dma.device) as dst:
        src[:] = np.arange(nbytes) % 253
        dma.recvchannel.transfer(dst)
        dma.sendchannel.transfer(src)
        dma.sendchannel.wait(10)
        assert dma.recvchannel.wait(10) == nbytes
        assert np.array_equal(src, dst)


# (device, fault, whether the other channel's transfer was still queued
# when the fault halted the failing one)
RESETS = [(0, "s2mm slverr", False), (1, "mm2s sg-decerr", True)]


@pytest.mark.parametrize("index, fault, other_unfinished", RESETS)
def test_reset_makes_a_halted_channel_usable(cli, index, fault,
                                             other_unfinished):
    with pydmak.DMA(index) as dma, \
            pydmak.allocate(64, "u1", device=dma.device) as buf:
        sim_fault(fault, index)
        failing, other = (dma.recvchannel, dma.sendchannel) \
            if fault.startswith("s2mm") else (dma.sendchannel, dma.recvchannel)
        with pytest.raises(pydmak.DMAError):
            _loop(dma)
        assert failing.error
        with pytest.raises(pydmak.DMAError, match="halted"):
            failing.transfer(buf)
        out, _ = cli("reset", index)
        lines = out.splitlines()
        assert lines[0] == f"/dev/dmak{index}: reset"
        assert lines[1].split() == ["CHANNEL", "BEFORE", "QUEUED", "AFTER",
                                    "QUEUED"]
        row = [ln for ln in lines if ln.startswith(failing.name)][0]
        assert row.split()[1] == "halted:" and row.split()[-2:] == ["ok", "0"]
        assert failing.error is None and other.error is None
        if other_unfinished:            # the reset ended it
            with pytest.raises(pydmak.DMAError) as exc:
                other.wait(10)
            assert exc.value.status == _uapi.ST_RESET
        else:
            assert other.wait(10) == 4096
        _loop(dma)


@pytest.mark.parametrize("args", [[], ["1"]])
def test_demo(cli, args):
    out, _ = cli("demo", *args)
    assert out.rstrip().endswith(
        "demo passed on 2 devices" if not args else "demo passed")
    assert "MISMATCH" not in out
