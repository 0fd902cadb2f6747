"""kmod/ builds for the boards with W=1 and no warnings: arm64 (Zynq
UltraScale+, Kria) against Debian's arm64 headers, and 32-bit ARM
(Zynq-7000) against its armmp headers, with Debian's cross compilers
(scripts/cross-headers fetches the headers; scripts/setup-deps installs
the rest).

arm64 builds both modules whole. For armhf every object compiles; the
final modpost step cannot run there, because Debian's linux-kbuild-6.1 on
an amd64 host knows the device-table layouts of 64-bit kernels only.
"""

import pathlib
import shutil
import struct
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]
EM_ARM, EM_AARCH64 = 40, 183
OBJECTS = [f"{name}.o" for name in (
    "dmak_main", "dmak_fops", "dmak_buf", "dmak_chan", "dmak_submit",
    "dmak_sg", "dmak_cyclic", "dmak_dmabuf", "dmak_records", "dmak_ident",
    "dmak_regs", "dmak_debugfs", "dmak_trace", "dmak_sim_main",
    "dmak_sim_engine", "dmak_sim_sg", "dmak_sim_trace")]


def _headers(arch):
    res = subprocess.run([str(REPO / "scripts" / "cross-headers"), arch],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def _tree(tmp_path):
    src = tmp_path / "kmod"
    shutil.copytree(REPO / "kmod", src, ignore=shutil.ignore_patterns(
        "*.o", "*.ko", "*.mod*", ".*.cmd", "Module.symvers", "modules.order",
        ".kdir"))
    shutil.copy(REPO / "VERSION", tmp_path / "VERSION")
    return src


def _machine(path):
    """e_machine of an ELF file (little-endian, as both boards are)."""
    data = path.read_bytes()[:20]
    assert data[:4] == b"\x7fELF", path
    return struct.unpack_from("<H", data, 18)[0]


def _make(kdir, src, arch, cross, *targets):
    res = subprocess.run(
        ["make", "-C", kdir, f"M={src}", f"ARCH={arch}",
         f"CROSS_COMPILE={cross}", "W=1", *targets],
        capture_output=True, text=True)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    assert "warning:" not in log, log[-4000:]


def test_the_object_list_is_kbuilds():
    kbuild = (REPO / "kmod" / "Kbuild").read_text()
    for obj in OBJECTS:
        assert obj in kbuild, obj
    assert kbuild.count(".o") == len(OBJECTS) + 2     # + dmak.o dmak_sim.o


def test_arm64_modules_build_without_warnings(tmp_path):
    src = _tree(tmp_path)
    _make(_headers("arm64"), src, "arm64", "aarch64-linux-gnu-", "modules")
    for ko in ("dmak.ko", "dmak_sim.ko"):
        assert _machine(src / ko) == EM_AARCH64, ko


def test_armhf_objects_compile_without_warnings(tmp_path):
    src = _tree(tmp_path)
    _make(_headers("armhf"), src, "arm", "arm-linux-gnueabihf-", *OBJECTS)
    for name in OBJECTS:
        assert _machine(src / name) == EM_ARM, name
