"""``pydmak demo``: runs :mod:`pydmak.demo` on DEV or on every device."""

from __future__ import annotations

import argparse

from .. import demo
from .args import add_device

__all__ = ["add_parser", "run"]


def add_parser(sub: "argparse._SubParsersAction") -> None:
    """Adds ``demo`` to the subcommands."""
    p = sub.add_parser(
        "demo", help="run the demo: buffers and checked loopbacks",
        description="Shows each device's limits, allocates buffers of both "
        "kinds, then loops data MM2S -> S2MM at several sizes and checks "
        "every byte (on an SG device also a batch and a gather). Needs a "
        "stream looped back (the simulated IP does).")
    add_device(p, "every device")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Runs the demo; returns its exit status."""
    return demo.run([args.device] if args.device is not None else None)
