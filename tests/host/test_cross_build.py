"""kmod/ builds for the boards with W=1 and no warnings: arm64 (Zynq
UltraScale+, Kria) against Debian's arm64 headers, and 32-bit ARM
(Zynq-7000) against its armmp headers, with Debian's cross compilers
(scripts/cross-headers fetches the headers; scripts/setup-deps installs
the rest).

Both builds run to the end, modpost included, so a symbol the board's
kernel lacks (a 64-bit division's __aeabi_uldivmod on 32-bit ARM) fails
here. armhf's modpost is the board's own, run under qemu-arm-static.
"""

import pathlib
import shutil
import struct
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]
EM_ARM, EM_AARCH64 = 40, 183


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


def test_arm64_modules_build_without_warnings(tmp_path):
    src = _tree(tmp_path)
    _make(_headers("arm64"), src, "arm64", "aarch64-linux-gnu-", "modules")
    for ko in ("dmak.ko", "dmak_sim.ko"):
        assert _machine(src / ko) == EM_AARCH64, ko


def test_armhf_modules_build_without_warnings(tmp_path):
    src = _tree(tmp_path)
    _make(_headers("armhf"), src, "arm", "arm-linux-gnueabihf-", "modules")
    for ko in ("dmak.ko", "dmak_sim.ko"):
        assert _machine(src / ko) == EM_ARM, ko


def test_armhf_modpost_refuses_a_64_bit_division(tmp_path):
    """The check above can fail: a u64 '/' links to a libgcc helper that
    32-bit ARM kernels do not export, and modpost says so."""
    src = tmp_path / "div"
    src.mkdir()
    (src / "Kbuild").write_text("obj-m := div.o\n")
    (src / "div.c").write_text(
        "#include <linux/module.h>\n"
        "static u64 n = 1000;\n"
        "module_param(n, ullong, 0);\n"
        "static int __init div_init(void)\n"
        "{\n\treturn n / (n >> 3) > 8;\n}\n"
        "module_init(div_init);\n"
        'MODULE_LICENSE("GPL");\n')
    res = subprocess.run(
        ["make", "-C", _headers("armhf"), f"M={src}", "ARCH=arm",
         "CROSS_COMPILE=arm-linux-gnueabihf-", "modules"],
        capture_output=True, text=True)
    assert res.returncode != 0
    assert '"__aeabi_uldivmod" [' in res.stdout + res.stderr
