"""The fuzzer runs inside the QEMU guest of tests/vm/run, like the VM tier.

Run anywhere else, it stops with an error instead of skipping.
"""

import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SYSFS = pathlib.Path("/sys/class/dmak")


def pytest_configure(config):
    if os.environ.get("DMAK_VM") != "1":
        raise pytest.UsageError(
            "tests/fuzz runs inside the QEMU guest: use \"tests/vm/run "
            "--sim-args 'instances=2 sg=0,1' .venv/bin/python -m pytest "
            "tests/fuzz\" (or 'make fuzz')")


def _features(index):
    path = SYSFS / f"dmak{index}" / "features"
    return path.read_text().split() if path.exists() else None


@pytest.fixture(scope="session")
def direct_and_sg():
    """dmak0 a direct-mode IP and dmak1 an SG one: the modules are
    reloaded with ``instances=2 sg=0,1`` unless so already."""
    f0, f1 = _features(0), _features(1)
    if f0 is None or "sg" in f0 or f1 is None or "sg" not in f1 or \
            (SYSFS / "dmak2").exists():
        for mod in ("dmak", "dmak_sim"):
            if pathlib.Path(f"/sys/module/{mod}").exists():
                subprocess.run(["rmmod", mod], check=True)
        subprocess.run(["insmod", str(REPO / "kmod" / "dmak_sim.ko"),
                        "instances=2", "sg=0,1"], check=True)
        subprocess.run(["insmod", str(REPO / "kmod" / "dmak.ko")],
                       check=True)
