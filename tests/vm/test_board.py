"""What a board install relies on, in the guest: the udev rule and group
that ``make dkms-install`` sets up, and the sysfs files the README's
hand-over from xilinx_dma writes.

The guest runs systemd-udevd (virtme-ng starts it) and has a writable
/etc (an overlay over the host's), so ``scripts/dkms udev-install`` runs
here for real: the group, the rule, udev applying it to the devices
present and to new ones, a user in the group opening /dev/dmak0 and one
outside it refused; ``udev-remove`` takes the rule away again.
"""

import grp
import gzip
import os
import pathlib
import platform
import stat

import numpy as np
import pytest

import pydmak
from conftest import REPO, close_default_device, load_modules, sh, wait_for

RULE = pathlib.Path("/etc/udev/rules.d/60-dmak.rules")
PLATFORM = pathlib.Path("/sys/bus/platform")
NOBODY = 65534


def _node(index=0):
    """(mode bits, group id) of /dev/dmakN."""
    st = os.stat(f"/dev/dmak{index}")
    assert stat.S_ISCHR(st.st_mode)
    return stat.S_IMODE(st.st_mode), st.st_gid


def _open_as_nobody(groups):
    """Opens /dev/dmak0 with pydmak in a child process running as uid
    65534 in ``groups``; returns (0, "") or (1, the error's text)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                 # the child
        os.close(r)
        status, text = 0, b""
        try:
            os.setgroups(groups)
            os.setgid(groups[0] if groups else NOBODY)
            os.setuid(NOBODY)
            with pydmak.Device(0) as dev:
                assert dev.info.mm2s
        except BaseException as exc:             # reported to the parent
            status, text = 1, str(exc).encode()
        os.write(w, text)
        os._exit(status)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        text = f.read().decode()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), text


@pytest.fixture
def udev():
    """udevd runs; no rule and no group before, none left after. (Busy
    with the previous test's events, it may drop a ping: it gets 10 s.)"""
    assert wait_for(lambda: sh("udevadm", "control", "--ping",
                               check=False).returncode == 0, timeout=10), \
        "systemd-udevd does not run in the guest: " + \
        sh("pgrep", "-a", "udevd", check=False).stdout
    assert not RULE.exists()
    with pytest.raises(KeyError):
        grp.getgrnam("dmak")
    yield
    if RULE.exists():
        RULE.unlink()
        sh("udevadm", "control", "--reload-rules")
    sh("groupdel", "dmak", check=False)
    load_modules()


def test_udev_rule_gives_group_dmak_the_devices(udev):
    assert _node() == (0o600, 0)                 # as the kernel makes it
    code, err = _open_as_nobody([])
    assert code != 0 and "join group dmak" in err, err

    res = sh(str(REPO / "scripts" / "dkms"), "udev-install")
    assert "/dev/dmak* belong to group dmak" in res.stdout
    assert RULE.read_text() == (REPO / "udev" / "60-dmak.rules").read_text()
    gid = grp.getgrnam("dmak").gr_gid
    assert gid < 1000, "not a system group"
    assert wait_for(lambda: _node() == (0o660, gid)), _node()
    assert _open_as_nobody([gid]) == (0, "")
    code, err = _open_as_nobody([])
    assert code != 0 and "permission denied" in err

    # Devices made later get it too: two instances after a reload.
    close_default_device()
    load_modules(["instances=2"])
    sh("udevadm", "settle")
    for index in (0, 1):
        assert wait_for(lambda i=index: _node(i) == (0o660, gid)), index

    # Installing again changes nothing (the group is there already).
    res = sh(str(REPO / "scripts" / "dkms"), "udev-install")
    assert "created the system group" not in res.stdout
    assert grp.getgrnam("dmak").gr_gid == gid

    sh(str(REPO / "scripts" / "dkms"), "udev-remove")
    assert not RULE.exists()
    assert grp.getgrnam("dmak").gr_gid == gid    # the group stays
    load_modules()
    sh("udevadm", "settle")
    assert _node() == (0o600, 0)


def test_udevadm_test_shows_the_rule(udev):
    """``udevadm test`` of the class device names the rule's GROUP and
    MODE, as a user checking a board would see them."""
    sh(str(REPO / "scripts" / "dkms"), "udev-install")
    lines = RULE.read_text().splitlines()
    line = 1 + next(i for i, text in enumerate(lines)
                    if text and not text.startswith("#"))
    gid = grp.getgrnam("dmak").gr_gid
    res = sh("udevadm", "test", "/sys/class/dmak/dmak0", check=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert f"dmak0: {RULE}:{line} GROUP {gid}\n" in out, out
    assert f"dmak0: {RULE}:{line} MODE 0660\n" in out, out


# -- the hand-over from xilinx_dma (README, "On a board") --------------------

def test_handover_sysfs_files():
    """The files the README writes exist where it says: the platform
    device's driver_override, the bus's drivers_probe, the driver's
    directory by its name. dmak has no bind/unbind files (an unbind under
    live mappings is refused: only rmmod unbinds it)."""
    dev = PLATFORM / "devices" / "pydmak-axi-dma.0"
    assert (dev / "driver_override").is_file()
    assert (PLATFORM / "drivers_probe").exists()
    drv = PLATFORM / "drivers" / "dmak"
    assert (drv / "pydmak-axi-dma.0").resolve() == dev.resolve()
    assert (dev / "driver").resolve() == drv.resolve()
    assert not (drv / "unbind").exists() and not (drv / "bind").exists()
    assert (pathlib.Path("/sys/class/dmak/dmak0/device").resolve()
            == dev.resolve())


def test_driver_override_and_drivers_probe_hand_a_device_over():
    """What the README's three writes do, with the simulator's device: a
    device held away from dmak by driver_override stays unbound when dmak
    loads; writing dmak to it and its name to drivers_probe binds it."""
    dev = PLATFORM / "devices" / "pydmak-axi-dma.0"
    close_default_device()
    sh("rmmod", "dmak")
    try:
        (dev / "driver_override").write_text("xilinx-vdma\n")
        sh("insmod", str(REPO / "kmod" / "dmak.ko"))
        assert not (dev / "driver").exists()
        assert not os.path.exists("/dev/dmak0")
        (dev / "driver_override").write_text("dmak\n")
        (PLATFORM / "drivers_probe").write_text("pydmak-axi-dma.0\n")
        assert (dev / "driver").resolve().name == "dmak"
        assert wait_for(lambda: os.path.exists("/dev/dmak0"))
        with pydmak.DMA(0) as dma:
            src = pydmak.allocate(4096, "u1", device=dma.device)
            dst = pydmak.allocate(4096, "u1", device=dma.device)
            src[:] = np.arange(4096) % 251
            dma.loopback(src, dst)
            assert dma.recvchannel.wait(10) == 4096
            assert (dst == src).all()
            src.freebuffer()
            dst.freebuffer()
            del src, dst        # their mappings hold the file
    finally:
        (dev / "driver_override").write_text("\n")
        load_modules()
    assert (dev / "driver_override").read_text().strip() == "(null)"


def kernel_config():
    """The running kernel's configuration: Debian's in /boot, a kernel built
    from source (scripts/debug-kernel) in /proc/config.gz."""
    boot = pathlib.Path(f"/boot/config-{platform.release()}")
    if boot.exists():
        return boot.read_text()
    return gzip.decompress(pathlib.Path("/proc/config.gz").read_bytes()).decode()


def test_xilinx_dma_driver_name():
    """Where the kernel has xilinx_dma, its platform driver is
    "xilinx-vdma" with bind and unbind files, as the README writes.
    Debian's kernels (x86-64 and arm64) do not build it: there the name is
    the one in drivers/dma/xilinx/xilinx_dma.c, and no such driver is
    registered."""
    config = kernel_config()
    drv = PLATFORM / "drivers" / "xilinx-vdma"
    if "CONFIG_XILINX_DMA=m" in config:
        sh("modprobe", "xilinx_dma")
        try:
            assert (drv / "unbind").exists() and (drv / "bind").exists()
        finally:
            sh("modprobe", "-r", "xilinx_dma")
    elif "CONFIG_XILINX_DMA=y" in config:
        assert (drv / "unbind").exists() and (drv / "bind").exists()
    else:                   # not set, or not offered (x86-64 6.1: no OF)
        assert not drv.exists()
