"""A progress bar on stderr, drawn only when stderr is a terminal."""

from __future__ import annotations

import shutil
import sys
import time
from typing import Optional, TextIO

__all__ = ["Progress"]


class Progress:
    """Shows how much of ``total`` units of work is done, on one line of
    ``stream`` (default stderr) redrawn in place. When the stream is not a
    terminal (a pipe, a file, a CI log) nothing is written at all, so the
    output stays plain text."""

    def __init__(self, total: float, stream: Optional[TextIO] = None,
                 enabled: Optional[bool] = None) -> None:
        self.total = max(float(total), 1e-9)
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self._drawn = 0.0
        self._shown = False

    def update(self, done: float, label: str = "") -> None:
        """Shows ``done`` of ``total`` (redraws at most ten times a
        second)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._drawn < 0.1 and done < self.total:
            return
        self._drawn = now
        frac = min(max(done / self.total, 0.0), 1.0)
        cols = shutil.get_terminal_size((80, 24)).columns
        text = f" {frac * 100:3.0f}% {label}"
        width = max(10, min(40, cols - len(text) - 3))
        filled = int(frac * width)
        line = f"[{'#' * filled}{'.' * (width - filled)}]{text}"
        self.stream.write("\r" + line[:cols - 1].ljust(cols - 1))
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """Erases the bar."""
        if self._shown:
            cols = shutil.get_terminal_size((80, 24)).columns
            self.stream.write("\r" + " " * (cols - 1) + "\r")
            self.stream.flush()
            self._shown = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
