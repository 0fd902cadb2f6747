"""One ABI for 64-bit and 32-bit user space (x86-64 next to i386, arm64
next to armhf on Zynq UltraScale+ and Kria).

The program of tests/host/test_abi.py, which prints every size, field
offset, ioctl number and constant of dmak.h, is built three ways: natively,
for i386 (``gcc -m32 -static``) and for armhf (EABI,
``arm-linux-gnueabihf-gcc -static``, run under ``qemu-arm-static``). All
three must print the same numbers: the driver's ``compat_ptr_ioctl``
passes a 32-bit caller's argument through unchanged, which is only right
while no structure has a ``long``, a pointer, an enum or padding the
compiler chose.
"""

import shutil
import struct
import subprocess

import pytest

from test_abi import INCLUDE, c_source, python_view

ELFCLASS32, ELFCLASS64 = 1, 2
EM_386, EM_ARM, EM_X86_64 = 3, 40, 62

# name: (compiler command, runner prefix, ELF class, e_machine)
TARGETS = {
    "native": (["gcc"], [], ELFCLASS64, EM_X86_64),
    "i386": (["gcc", "-m32", "-static",
              "-I/usr/include/x86_64-linux-gnu"], [], ELFCLASS32, EM_386),
    "armhf": (["arm-linux-gnueabihf-gcc", "-static"], ["qemu-arm-static"],
              ELFCLASS32, EM_ARM),
}
PACKAGES = "gcc libc6-dev-i386 lib32gcc-12-dev gcc-arm-linux-gnueabihf " \
    "qemu-user-static (scripts/setup-deps installs them)"

# Printed too, to prove each build is the target it claims; not compared.
TARGET_PROBES = ["const sizeof(void *)", "const sizeof(long)"]


def _elf(path):
    """(ELF class, e_machine) of a little-endian ELF file."""
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF", path
    return head[4], struct.unpack_from("<H", head, 18)[0]


def dump(target, source, workdir, include=INCLUDE):
    """Builds ``source`` for ``target``, runs it and returns what it printed
    as {key: number}."""
    cc, runner, elf_class, machine = TARGETS[target]
    for tool in (cc[0], *runner):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: install {PACKAGES}")
    src, exe = workdir / f"{target}.c", workdir / f"abi_{target}"
    src.write_text(source)
    res = subprocess.run([*cc, "-Wall", "-Werror", "-I", str(include),
                          "-o", str(exe), str(src)],
                         capture_output=True, text=True)
    assert res.returncode == 0, f"{target} build failed:\n{res.stderr}"
    assert _elf(exe) == (elf_class, machine), target
    res = subprocess.run([*runner, str(exe)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, f"{target} run failed:\n{res.stderr}"
    view = {}
    for line in res.stdout.splitlines():
        key, value = line.rsplit(" ", 1)
        view[key] = int(value)
    return view


def differences(views, keys):
    """{key: {target: value}} of every key whose value is not the same in
    all ``views`` (a key one view lacks counts as different)."""
    diff = {}
    for key in keys:
        values = {t: v.get(key) for t, v in views.items()}
        if len(set(values.values())) != 1 or None in values.values():
            diff[key] = values
    return diff


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    keys = list(python_view()) + TARGET_PROBES
    source = c_source(keys)
    work = tmp_path_factory.mktemp("abi32")
    return {t: dump(t, source, work) for t in TARGETS}


def test_the_builds_are_64_and_32_bit(views):
    assert views["native"]["const sizeof(void *)"] == 8
    assert views["native"]["const sizeof(long)"] == 8
    for target in ("i386", "armhf"):
        assert views[target]["const sizeof(void *)"] == 4, target
        assert views[target]["const sizeof(long)"] == 4, target


def test_every_layout_and_number_is_the_same(views):
    keys = list(python_view())
    for target, view in views.items():
        assert set(view) == set(keys) | set(TARGET_PROBES), target
    assert differences(views, keys) == {}
    # ... and is the one pydmak's ctypes mirror has.
    assert {k: views["i386"][k] for k in keys} == python_view()


def test_every_ioctl_is_covered(views):
    """Numbers 0x00 to 0x0B, each once, all with the driver's magic."""
    numbers = sorted(v & 0xFF for k, v in views["armhf"].items()
                     if k.startswith("ioctl "))
    assert numbers == list(range(0x0C))
    assert {(v >> 8) & 0xFF for k, v in views["armhf"].items()
            if k.startswith("ioctl ")} == {0xDA}


BAD_HEADER = """\
#include <linux/types.h>
struct dmak_bad {
	__u32 a;
	__u64 b;	/* 4-aligned on i386, 8 elsewhere */
	long c;
	void *p;
};
"""
BAD_KEYS = ["sizeof dmak_bad", "offsetof dmak_bad.a", "offsetof dmak_bad.b",
            "offsetof dmak_bad.c", "offsetof dmak_bad.p"]


def test_the_check_catches_a_layout_that_differs(tmp_path):
    """The same machinery finds the traps a structure must avoid."""
    (tmp_path / "dmak.h").write_text(BAD_HEADER)
    source = c_source(BAD_KEYS)
    views = {t: dump(t, source, tmp_path, include=tmp_path)
             for t in TARGETS}
    diff = differences(views, BAD_KEYS)
    assert diff["offsetof dmak_bad.b"] == \
        {"native": 8, "i386": 4, "armhf": 8}
    assert diff["sizeof dmak_bad"] == {"native": 32, "i386": 20, "armhf": 24}
    assert set(diff) == set(BAD_KEYS) - {"offsetof dmak_bad.a"}
