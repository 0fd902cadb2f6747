"""The ``pydmak`` command (also ``python -m pydmak``).

Subcommands: ``info`` (the devices and what each offers), ``regs [DEV]``
(every register, decoded), ``demo``, ``bench [DEV]`` (loopback throughput
and latency) and ``reset DEV``. Each
subcommand lives in a module of this package with ``add_parser(sub)`` and
``run(args) -> int``. Exit status: 0 done, 1 the request failed (a missing
device or module, a DMA error, data that did not arrive intact; one line
on stderr says why), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from ..dma import DMAError
from . import bench, demo, info, regs, reset
from .errors import CommandError

__all__ = ["build_parser", "main"]

SUBCOMMANDS = (info, regs, demo, bench, reset)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="pydmak",
        description="Xilinx AXI DMA devices (/dev/dmakN of the dmak "
        "driver): list them, show their registers, run the demo, "
        "benchmark, reset.",
        epilog="DEV is an index N for /dev/dmakN, the IP's name "
        "(axi_dma_0), its base address (0x40400000) or a path. --json "
        "output is described in docs/cli.md. Exit status: 0 done, 1 "
        "failed (one line on stderr says why), 2 bad arguments.")
    parser.add_argument("--version", action="version",
                        version=f"pydmak {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
        if exc.filename and exc.filename not in text:
            text = f"{exc.filename}: {text}"
    else:
        text = str(exc)
    return " ".join(text.split())


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the command line ``argv`` (default ``sys.argv[1:]``); returns
    the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except DMAError as exc:
        device = getattr(args, "device", None)
        hint = f" (from the shell: pydmak reset {device})" \
            if device is not None else ""
        print(f"pydmak {args.command}: {_message(exc)}{hint}",
              file=sys.stderr)
    except (OSError, CommandError) as exc:
        print(f"pydmak {args.command}: {_message(exc)}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"pydmak {args.command}: interrupted", file=sys.stderr)
        return 130
    return 1
