"""kmod/ builds with W=1 and no warnings against the installed headers,
and both modules carry the version of VERSION."""

import pathlib
import shutil
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]


def _kdir():
    ver = subprocess.run([str(REPO / "scripts" / "guest-kernel")],
                         check=True, capture_output=True,
                         text=True).stdout.strip()
    return f"/lib/modules/{ver}/build"


def test_modules_build_without_warnings(tmp_path):
    src = tmp_path / "kmod"
    shutil.copytree(REPO / "kmod", src, ignore=shutil.ignore_patterns(
        "*.o", "*.ko", "*.mod*", ".*.cmd", "Module.symvers", "modules.order",
        ".kdir"))
    shutil.copy(REPO / "VERSION", tmp_path / "VERSION")
    res = subprocess.run(["make", "-C", str(src), f"KDIR={_kdir()}"],
                         capture_output=True, text=True)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log
    assert "warning:" not in log, log
    assert (src / "dmak.ko").is_file()
    assert (src / "dmak_sim.ko").is_file()
    version = (REPO / "VERSION").read_text().strip()
    modinfo = shutil.which("modinfo") or "/sbin/modinfo"
    for ko in ("dmak.ko", "dmak_sim.ko"):
        res = subprocess.run([modinfo, "-F", "version", str(src / ko)],
                             check=True, capture_output=True, text=True)
        assert res.stdout.strip() == version, ko


def test_build_without_version_fails_clearly(tmp_path):
    """Kbuild reads ../VERSION: without it the build stops and says so."""
    src = tmp_path / "kmod"
    shutil.copytree(REPO / "kmod", src, ignore=shutil.ignore_patterns(
        "*.o", "*.ko", "*.mod*", ".*.cmd", "Module.symvers", "modules.order",
        ".kdir"))
    res = subprocess.run(["make", "-C", str(src), f"KDIR={_kdir()}"],
                         capture_output=True, text=True)
    assert res.returncode != 0
    assert "VERSION is missing" in res.stdout + res.stderr


def test_dmak_sim_0_builds_the_driver_alone(tmp_path):
    """make DMAK_SIM=0 (what dkms.conf runs): dmak.ko, and no object of
    the simulator, from the whole tree."""
    src = tmp_path / "kmod"
    shutil.copytree(REPO / "kmod", src, ignore=shutil.ignore_patterns(
        "*.o", "*.ko", "*.mod*", ".*.cmd", "Module.symvers", "modules.order",
        ".kdir"))
    shutil.copy(REPO / "VERSION", tmp_path / "VERSION")
    res = subprocess.run(["make", "-C", str(src), f"KDIR={_kdir()}",
                          "DMAK_SIM=0"], capture_output=True, text=True)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log
    assert "warning:" not in log, log
    assert (src / "dmak.ko").is_file()
    assert not list(src.glob("dmak_sim*.o")) and \
        not list(src.glob("dmak_sim*.ko")), log
