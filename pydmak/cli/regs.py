"""``pydmak regs [DEV]``: every register of the IP, decoded.

Read through ``DMAK_IOC_REGS`` (no ``/dev/mem``), all in one request, as
``dma.register_map`` reads them; registers the IP does not have are listed
with the reason.
"""

from __future__ import annotations

import argparse
from typing import Any, Dict, List

from ..device import Device, devices
from ..registers import REGISTERS, absent_reason, decode
from .args import add_device, add_json
from .output import print_json

__all__ = ["add_parser", "read", "run"]


def add_parser(sub: "argparse._SubParsersAction") -> None:
    """Adds ``regs`` to the subcommands."""
    p = sub.add_parser(
        "regs", help="show every register of a DMA, decoded",
        description="Reads every PG021 register of both channels of DEV "
        "(or of every device) and prints it with its decoded fields. "
        "Read-only: reading has no side effect on the IP.")
    add_device(p, "every device")
    add_json(p)
    p.set_defaults(func=run)


def read(dev: Device) -> Dict[str, Any]:
    """The registers of ``dev``, as the JSON of ``regs`` has them."""
    info = dev.info
    present, words = dev.registers()
    registers: List[Dict[str, Any]] = []
    for name, spec in REGISTERS.items():
        entry: Dict[str, Any] = {"name": name, "offset": spec.offset}
        if present & (1 << spec.word):
            value = words[spec.word]
            entry.update(value=value, fields=decode(name, value))
        else:
            entry["absent"] = absent_reason(
                name, mm2s=info.mm2s, s2mm=info.s2mm, sg=info.sg,
                addr_width=info.addr_width) or "absent on this IP"
        registers.append(entry)
    return {"path": dev.path, "mode": "sg" if info.sg else "direct",
            "registers": registers}


def _print(report: Dict[str, Any]) -> None:
    print(f"{report['path']} ({report['mode']}):")
    width = max(len(r["name"]) for r in report["registers"])
    for r in report["registers"]:
        head = f"  {r['name']:<{width}}  0x{r['offset']:02x}"
        if "absent" in r:
            print(f"{head}  {'-':<10}  ({r['absent']})")
            continue
        fields = " ".join(f"{k}={v}" for k, v in r["fields"].items())
        print(f"{head}  0x{r['value']:08x}  {fields}".rstrip())


def run(args: argparse.Namespace) -> int:
    """Prints the registers of DEV, or of every device."""
    targets = [args.device] if args.device is not None else devices()
    if not targets:
        Device(None).close()        # raises DeviceNotFoundError: says why
    reports = []
    for target in targets:
        with Device(target) as dev:
            reports.append(read(dev))
    if args.json:
        print_json({"devices": reports})
        return 0
    for i, report in enumerate(reports):
        if i:
            print()
        _print(report)
    return 0
