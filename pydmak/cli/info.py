"""``pydmak info``: the devices present and what each IP offers.

Each device is opened for its INFO (channels, widths, limits, the quota a
user has on it); the buffer memory the driver holds for it, over every open
file, comes from sysfs (``/sys/class/dmak/dmakN/buffers``).
"""

from __future__ import annotations

import argparse
import os
import pathlib
from typing import Any, Dict, List, Optional, Tuple

from ..device import Device, devices
from .args import add_device, add_json
from .output import print_json, print_table, size_text

__all__ = ["add_parser", "describe", "module_version", "run"]

SYS_MODULE = pathlib.Path("/sys/module/dmak")


def add_parser(sub: "argparse._SubParsersAction") -> None:
    """Adds ``info`` to the subcommands."""
    p = sub.add_parser(
        "info", help="list the devices and what each DMA offers",
        description="Lists the dmak devices (or DEV): mode, channels, "
        "widths, limits, the buffer quota per user and the buffer "
        "memory the driver holds now.")
    add_device(p, "every device")
    add_json(p)
    p.set_defaults(func=run)


def module_version() -> Optional[str]:
    """The loaded dmak module's version, or None when not loaded."""
    try:
        return (SYS_MODULE / "version").read_text().strip()
    except OSError:
        return None


def _sysfs(path: str, attr: str) -> Optional[str]:
    """Attribute ``attr`` of the device at ``path`` (found by its
    major:minor), or None if unknown."""
    try:
        rdev = os.stat(path).st_rdev
        return pathlib.Path(f"/sys/dev/char/{os.major(rdev)}:"
                            f"{os.minor(rdev)}/{attr}").read_text().strip()
    except OSError:
        return None


def live_buffers(path: str) -> Optional[Tuple[int, int]]:
    """``(count, bytes)`` of buffer memory the driver holds for the device
    at ``path``, over every open file (sysfs), or None if unknown."""
    try:
        count, nbytes = (_sysfs(path, "buffers") or "").split()
        return int(count), int(nbytes)
    except ValueError:
        return None


def identity(path: str) -> Dict[str, Any]:
    """The IP's name, node name, base address and compatible (sysfs)."""
    base = _sysfs(path, "base")
    compatible = _sysfs(path, "compatible")
    return {"name": _sysfs(path, "name"), "node": _sysfs(path, "node"),
            "base": int(base, 16) if base else None,
            "compatible": compatible.split() if compatible else []}


def describe(dev: Device) -> Dict[str, Any]:
    """What ``dev`` offers, as the JSON of ``info`` has it."""
    info = dev.info
    live = live_buffers(dev.path)
    return {
        "path": dev.path,
        **identity(dev.path),
        "abi_version": info.abi_version,
        "mode": "sg" if info.sg else "direct",
        "channels": [name for name, present in
                     (("mm2s", info.mm2s), ("s2mm", info.s2mm)) if present],
        "length_width": info.length_width,
        "addr_width": info.addr_width,
        "data_width": info.data_width,
        "dre": info.dre,
        "alignment": info.alignment,
        "ring_size": info.ring_size,
        "desc_max": info.desc_max,
        "max_transfer": info.max_transfer,
        "delay_unit_ns": info.delay_unit_ns,
        "buffer_quota": info.buf_quota,
        "buffers": (None if live is None
                    else {"count": live[0], "bytes": live[1]}),
    }


def _row(d: Dict[str, Any]) -> List[Any]:
    sg = d["mode"] == "sg"
    live = d["buffers"]
    return [
        d["path"], d["name"] or "?",
        "-" if d["base"] is None else f"0x{d['base']:x}",
        d["mode"], ",".join(d["channels"]) or "-",
        d["length_width"], d["addr_width"], d["data_width"],
        "yes" if d["dre"] else "no",
        d["ring_size"] if sg else "-",
        d["desc_max"] if sg else "-",
        d["max_transfer"],
        size_text(d["buffer_quota"]) if d["buffer_quota"] else "none",
        "?" if live is None
        else f"{live['count']} ({size_text(live['bytes'])})",
    ]


HEADERS = ["DEVICE", "NAME", "BASE", "MODE", "CHANNELS", "LEN BITS",
           "ADDR BITS", "DATA BITS", "DRE", "RING", "DESC MAX",
           "MAX TRANSFER", "QUOTA", "BUFFERS"]


def run(args: argparse.Namespace) -> int:
    """Prints the devices' table (or JSON); returns the exit status."""
    from .. import __version__

    targets = [args.device] if args.device is not None else devices()
    if not targets:
        Device(None).close()        # raises DeviceNotFoundError: says why
    described = []
    for target in targets:
        with Device(target) as dev:
            described.append(describe(dev))
    report = {"pydmak_version": __version__,
              "module_version": module_version(),
              "devices": described}
    if args.json:
        print_json(report)
        return 0
    print(f"pydmak {__version__}, dmak module "
          f"{report['module_version'] or '?'}, ABI "
          f"{described[0]['abi_version']}")
    print_table(HEADERS, [_row(d) for d in described],
                right=range(5, 14))
    print("BUFFERS: count (bytes) the driver holds now, over every open "
          "file; QUOTA: per user, all their open files")
    return 0
