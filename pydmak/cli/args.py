"""Argument types of the command line: a device, a byte size."""

from __future__ import annotations

import argparse
import re
from typing import List, Union

__all__ = ["add_device", "add_json", "device_arg", "positive_float", "positive_int", "size_arg",
           "sizes_arg"]

DEVICE_HELP = ("a device: an index N for /dev/dmakN, the IP's name "
               "(axi_dma_0), its base address (0x40400000), or a path")

_SUFFIXES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def device_arg(text: str) -> Union[int, str]:
    """Parses DEV for ``pydmak.Device``: an index (``0``) or a base address
    (``0x40400000``) becomes an int, anything else (a name, a node name,
    a path) stays the string ``Device`` is given."""
    if re.fullmatch(r"\d+", text):
        return int(text)
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
        return int(text, 16)
    if re.fullmatch(r"-\d+", text):
        raise argparse.ArgumentTypeError(
            f"device index {text} is negative")
    if not text:
        raise argparse.ArgumentTypeError("the device is empty")
    return text


def size_arg(text: str) -> int:
    """Parses a byte count: ``4096``, ``4K``, ``1M`` (binary units)."""
    match = re.fullmatch(r"(\d+)\s*([kKmMgG]?)(i?[bB])?", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size (e.g. 4096, 64K, 1M)")
    size = int(match.group(1)) * _SUFFIXES[match.group(2).lower()]
    if size < 1:
        raise argparse.ArgumentTypeError("a size is at least 1 byte")
    return size


def sizes_arg(text: str) -> List[int]:
    """Parses a comma-separated list of sizes: ``4K,64K,1M``."""
    return [size_arg(part) for part in text.split(",")]


def positive_int(text: str) -> int:
    """Parses a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") \
            from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def positive_float(text: str) -> float:
    """Parses a number above 0 (seconds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") \
            from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not above 0")
    return value


def add_device(p: argparse.ArgumentParser, default: str = "") -> None:
    """Adds the DEV argument: optional, with ``default`` saying what its
    absence means, or required when ``default`` is empty."""
    if default:
        p.add_argument("device", nargs="?", type=device_arg, metavar="DEV",
                       help=f"{DEVICE_HELP} (default: {default})")
    else:
        p.add_argument("device", type=device_arg, metavar="DEV",
                       help=DEVICE_HELP)


def add_json(p: argparse.ArgumentParser) -> None:
    """Adds ``--json``."""
    p.add_argument("--json", action="store_true",
                   help="print JSON (keys: see docs/cli.md)")
