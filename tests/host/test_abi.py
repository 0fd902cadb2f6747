"""The ctypes mirror in pydmak._uapi matches kmod/include/uapi/dmak.h.

A C program compiled against the header prints every size, field offset,
ioctl number and constant that the mirror defines; both must agree. The
header is the one the package carries (``pydmak.include_dir()``), so the
check runs the same from the source tree and from an installed wheel
(tests/host/test_packaging.py runs it there).
"""

import ctypes
import pathlib
import subprocess

import pytest

import pydmak
from pydmak import _uapi

REPO = pathlib.Path(__file__).resolve().parents[2]
INCLUDE = pathlib.Path(pydmak.include_dir())

CONSTANTS = ["DMAK_ABI_VERSION", "DMAK_INFO_MM2S", "DMAK_INFO_S2MM",
             "DMAK_INFO_SG", "DMAK_INFO_DRE", "DMAK_BUF_COHERENT",
             "DMAK_BUF_CACHED", "DMAK_SYNC_TO_DEVICE", "DMAK_SYNC_FROM_DEVICE",
             "DMAK_SYNC_BIDIRECTIONAL", "DMAK_IOC_MAGIC", "DMAK_MM2S",
             "DMAK_S2MM", "DMAK_XFER_NO_SYNC", "DMAK_XFER_MORE",
             "DMAK_SUBMIT_MAX",
             "DMAK_ST_OK", "DMAK_ST_DMA_INT_ERR", "DMAK_ST_DMA_SLV_ERR",
             "DMAK_ST_DMA_DEC_ERR", "DMAK_ST_SG_INT_ERR", "DMAK_ST_SG_SLV_ERR",
             "DMAK_ST_SG_DEC_ERR", "DMAK_ST_CANCELLED", "DMAK_ST_RESET",
             "DMAK_ST_ABORTED", "DMAK_ST_REMOVED", "DMAK_WAIT_FOREVER",
             "DMAK_WAIT_PEEK",
             "DMAK_RESULTS", "DMAK_OP_STATUS", "DMAK_OP_RESET",
             "DMAK_OP_CANCEL", "DMAK_OP_STOP", "DMAK_OP_START",
             "DMAK_OP_COALESCE",
             "DMAK_COMPL_OVERFLOW", "DMAK_COMPL_CYCLIC", "DMAK_COMPL_SOF",
             "DMAK_COMPL_EOF", "DMAK_COMPL_OVERRUN", "DMAK_RECORDS",
             "DMAK_CYCLIC_START", "DMAK_CYCLIC_RELEASE", "DMAK_CYCLIC_STOP",
             "DMAK_CYCLIC_STATUS", "DMAK_REGS_WORDS"]


def python_view():
    """Every size, field offset, ioctl number and constant of the mirror,
    keyed as the C program prints them ("sizeof dmak_info", ...)."""
    view = {}
    for name, struct in _uapi.STRUCTS.items():
        view[f"sizeof {name}"] = ctypes.sizeof(struct)
        for field, _ in struct._fields_:
            view[f"offsetof {name}.{field}"] = getattr(struct, field).offset
    for name, number in _uapi.IOCTLS.items():
        view[f"ioctl {name}"] = number
    for name in CONSTANTS:
        view[f"const {name}"] = getattr(_uapi, name[len("DMAK_"):])
    return view


def c_source(keys):
    """A C program that prints the value of each of ``keys`` (as
    python_view() names them) from the header, one "KEY VALUE" a line."""
    lines = ["#include <stdio.h>", "#include <stddef.h>",
             '#include "dmak.h"', "int main(void)", "{"]
    for key in keys:
        kind, what = key.split(" ", 1)
        if kind == "sizeof":
            expr = f"sizeof(struct {what})"
        elif kind == "offsetof":
            struct, field = what.split(".")
            expr = f"offsetof(struct {struct}, {field})"
        else:
            expr = what
        lines.append(f'\tprintf("%s %llu\\n", "{key}", '
                     f"(unsigned long long)({expr}));")
    lines += ["\treturn 0;", "}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def c_view(tmp_path_factory):
    keys = list(python_view())
    tmp = tmp_path_factory.mktemp("abi")
    src, exe = tmp / "abi_dump.c", tmp / "abi_dump"
    src.write_text(c_source(keys))
    subprocess.run(["gcc", "-Wall", "-Werror", "-I", str(INCLUDE), "-o",
                    str(exe), str(src)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True,
                         text=True).stdout
    view = {}
    for line in out.splitlines():
        key, value = line.rsplit(" ", 1)
        view[key] = int(value)
    return view


def test_every_value_matches(c_view):
    py = python_view()
    assert set(c_view) == set(py)
    mismatched = {k: (py[k], c_view[k]) for k in py if py[k] != c_view[k]}
    assert mismatched == {}


def test_c_sizes_cover_every_field(c_view):
    """No C field is missing from the mirror: the fields fill the size."""
    for name, struct in _uapi.STRUCTS.items():
        last, ctype = struct._fields_[-1]
        end = getattr(struct, last).offset + ctypes.sizeof(ctype)
        assert c_view[f"sizeof {name}"] == end, name


def test_structs_have_no_implicit_padding():
    for name, struct in _uapi.STRUCTS.items():
        pos = 0
        for field, ctype in struct._fields_:
            assert getattr(struct, field).offset == pos, (name, field)
            pos += ctypes.sizeof(ctype)
        assert ctypes.sizeof(struct) % 8 == 0, name


def test_regs_ioctl_is_read_only_number_9(c_view):
    """DMAK_IOC_REGS is _IOR, number 0x09, sized by struct dmak_regs."""
    number = c_view["ioctl DMAK_IOC_REGS"]
    assert number & 0xFF == 0x09
    assert (number >> 8) & 0xFF == _uapi.IOC_MAGIC
    assert (number >> 16) & 0x3FFF == c_view["sizeof dmak_regs"]
    assert number >> 30 == 2        # _IOC_READ only
    assert c_view["offsetof dmak_regs.regs"] == 4
    assert c_view["sizeof dmak_regs"] == 4 + 4 * _uapi.REGS_WORDS + 16


def test_package_header_is_the_uapi_header():
    """The package's dmak.h is kmod/include/uapi/dmak.h, byte for byte."""
    shipped = INCLUDE / "dmak.h"
    assert shipped.is_file()
    assert shipped.read_bytes() == \
        (REPO / "kmod" / "include" / "uapi" / "dmak.h").read_bytes()
