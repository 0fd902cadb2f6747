"""Output of the command line: aligned tables, sizes, JSON."""

from __future__ import annotations

import json
import sys
from typing import Any, Sequence, TextIO

__all__ = ["print_json", "print_table", "size_text"]


def size_text(nbytes: int) -> str:
    """``nbytes`` in the largest binary unit that divides it: 4 KiB."""
    for shift, unit in ((30, "GiB"), (20, "MiB"), (10, "KiB")):
        if nbytes >= 1 << shift and not nbytes % (1 << shift):
            return f"{nbytes >> shift} {unit}"
    return f"{nbytes} B"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                right: Sequence[int] = (), out: TextIO = None) -> None:
    """Prints ``rows`` under ``headers``, columns padded to fit; the
    columns listed in ``right`` are aligned to the right."""
    out = out or sys.stdout
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        parts = [cell.rjust(w) if i in right else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths))]
        print("  ".join(parts).rstrip(), file=out)


def print_json(obj: Any, out: TextIO = None) -> None:
    """Prints ``obj`` as indented JSON with sorted keys."""
    print(json.dumps(obj, indent=2, sort_keys=True), file=out or sys.stdout)
