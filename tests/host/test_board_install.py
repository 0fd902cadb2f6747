"""The board install's files agree with the driver: the udev rule matches
the class and device names dmak registers, and DKMS builds dmak.ko only
(tests/vm/test_board.py applies the rule with udev; the dkms tier of
scripts/run-tests builds the DKMS tree)."""

import fnmatch
import pathlib
import re
import shlex
import subprocess

from pydmak import device as device_mod

REPO = pathlib.Path(__file__).resolve().parents[2]
RULES = REPO / "udev" / "60-dmak.rules"


def _rule():
    """The one rule of the file: {key: (operator, value)}."""
    lines = [line for line in RULES.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) == 1, lines
    keys = {}
    for part in lines[0].split(","):
        m = re.fullmatch(r'\s*([A-Z]+)\s*(==|=)\s*"([^"]*)"\s*', part)
        assert m, part
        keys[m[1]] = (m[2], m[3])
    return keys


def _driver_name():
    """DMAK_NAME, as kmod/dmak.h defines it."""
    m = re.search(r'#define\s+DMAK_NAME\s+"([^"]+)"',
                  (REPO / "kmod" / "dmak.h").read_text())
    assert m
    return m[1]


def test_rule_matches_what_the_driver_registers():
    """SUBSYSTEM is the class dmak creates; KERNEL matches the names its
    devices get (DMAK_NAME "%d", minors 0..63) and nothing else."""
    main = (REPO / "kmod" / "dmak_main.c").read_text()
    name = _driver_name()
    assert re.search(r"dmak_class_create\(DMAK_NAME\)", main)
    assert re.search(r'dev_set_name\(&dd->dev, DMAK_NAME "%d", minor\)',
                     main)
    limit = int(re.search(r"#define\s+DMAK_MAX_DEVICES\s+(\d+)", main)[1])
    rule = _rule()
    assert rule["SUBSYSTEM"] == ("==", name)
    op, pattern = rule["KERNEL"]
    assert op == "=="
    for minor in (0, 1, 9, 10, limit - 1):
        assert fnmatch.fnmatchcase(f"{name}{minor}", pattern), minor
    for other in (name, f"{name}x", f"x{name}0", "dmaengine0"):
        assert not fnmatch.fnmatchcase(other, pattern), other
    # pydmak looks for the same class in sysfs.
    assert device_mod.SYSFS_CLASS == f"/sys/class/{name}"


def test_rule_gives_group_dmak_read_and_write():
    rule = _rule()
    assert rule["GROUP"] == ("=", "dmak")
    assert rule["MODE"] == ("=", "0660")
    assert set(rule) == {"SUBSYSTEM", "KERNEL", "GROUP", "MODE"}


def test_dkms_script_installs_this_rule_for_this_group():
    script = (REPO / "scripts" / "dkms").read_text()
    assert "rule=/etc/udev/rules.d/60-dmak.rules\n" in script
    assert "group=dmak\n" in script
    assert '"$repo/udev/60-dmak.rules" "$rule"' in script
    assert 'groupadd --system "$group"' in script
    assert "--subsystem-match=dmak" in script


def test_dkms_builds_dmak_ko_only():
    """dkms.conf (sourced by bash, as dkms does) lists dmak alone and makes
    it with DMAK_SIM=0; the simulator needs kernels the boards may not
    have (generic_handle_irq_safe() came with 5.19)."""
    res = subprocess.run(
        ["bash", "-c", f'kernel_source_dir=/KDIR; . "{REPO}/dkms.conf"; '
         'echo "${BUILT_MODULE_NAME[*]}"; echo "${MAKE[0]}"'],
        check=True, capture_output=True, text=True)
    modules, make = res.stdout.splitlines()
    assert modules == "dmak"
    assert shlex.split(make) == ["make", "-C", "kmod", "KDIR=/KDIR",
                                 "DMAK_SIM=0"]
    kbuild = (REPO / "kmod" / "Kbuild").read_text()
    assert "obj-m += dmak.o\nifneq ($(DMAK_SIM),0)\nobj-m += dmak_sim.o\n" \
        in kbuild
