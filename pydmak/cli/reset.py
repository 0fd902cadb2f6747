"""``pydmak reset DEV``: resets a DMA whose channel halted on an error.

The IP has one reset for both channels: every unfinished transfer on
either channel, of every process, ends (status "reset"); both channels
work again afterwards.
"""

from __future__ import annotations

import argparse
from typing import Any, Dict, List, Optional

from ..dma import DMA, DMAChannel
from .args import add_device, add_json
from .output import print_json, print_table

__all__ = ["add_parser", "run"]


def add_parser(sub: "argparse._SubParsersAction") -> None:
    """Adds ``reset`` to the subcommands."""
    p = sub.add_parser(
        "reset", help="reset a DMA (both channels)",
        description="Resets the AXI DMA core: a channel halted on an error "
        "works again. Every unfinished transfer on either channel, of "
        "every process using the device, ends with status 'reset'.")
    add_device(p)
    add_json(p)
    p.set_defaults(func=run)


def _channels(dma: DMA) -> List[DMAChannel]:
    return [ch for ch in (dma.sendchannel, dma.recvchannel)
            if ch is not None]


def _state(ch: DMAChannel) -> Dict[str, Any]:
    return {"error": ch.error, "queued": ch.queued}


def run(args: argparse.Namespace) -> int:
    """Resets the device's DMA; prints each channel before and after."""
    with DMA(args.device) as dma:
        channels = _channels(dma)
        before = {ch.name: _state(ch) for ch in channels}
        channels[0].reset()
        after = {ch.name: _state(ch) for ch in channels}
        path = dma.device.path
    report = {"device": path, "channels": [
        {"name": name.lower(), "error_before": before[name]["error"],
         "queued_before": before[name]["queued"],
         "error": after[name]["error"], "queued": after[name]["queued"]}
        for name in before]}
    if args.json:
        print_json(report)
        return 0
    print(f"{path}: reset")

    def text(error: Optional[str]) -> str:
        return f"halted: {error}" if error else "ok"

    print_table(["CHANNEL", "BEFORE", "QUEUED", "AFTER", "QUEUED"],
                [[c["name"].upper(), text(c["error_before"]),
                  c["queued_before"], text(c["error"]), c["queued"]]
                 for c in report["channels"]], right=(2, 4))
    return 0
