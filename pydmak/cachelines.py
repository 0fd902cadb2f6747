"""The cache-line rule for receives into cached memory.

A device that does not snoop the CPU caches (the AXI DMA on the HP ports
of a Zynq or Zynq UltraScale+, and on most ARM boards) must be given S2MM
ranges of cached memory that start and end on cache lines: a line shared
with bytes outside the range would be written back over what the DMA
wrote, when the CPU evicts it after touching those bytes or when the end
of the transfer cleans the partial line. A range may end where its buffer
does: the rest of that line is padding no array holds, so a whole buffer of
any size may be received into. The driver refuses any other range
(``EINVAL``); sysfs ``cache_alignment`` says the line size it requires (1
on a coherent device, where there is no rule). Coherent buffers, which the
CPU maps uncached on such a device, have no rule.

pydmak checks a range before it submits it wherever it knows the rule
applies: its own cached buffers, and buffers of another dmak device that
are cached (or come from a coherent device, whose coherent memory the CPU
caches). For a dma-buf from elsewhere (``from_dmabuf()``) only the driver
knows, and its ``EINVAL`` becomes the same error.
"""

from __future__ import annotations

import errno
from typing import Optional, Sequence

from .errors import DmakError

__all__ = ["CacheLineError", "line_rule", "range_error", "slots_error",
           "explain_einval"]


class CacheLineError(DmakError, ValueError):
    """An S2MM range of cached memory is not whole cache lines on a device
    that does not snoop the CPU caches. A ``ValueError`` and a
    ``DmakError`` with errno ``EINVAL`` (what the driver answers)."""

    def __init__(self, text: str) -> None:
        super().__init__(errno.EINVAL, text)


_FIX = ("use a coherent buffer (pydmak.allocate(..., cacheable=False)) or "
        "align the range")


def line_rule(alloc, device) -> Optional[int]:
    """The alignment S2MM ranges of buffer ``alloc`` need on ``device``.

    1 where there is no rule; ``None`` where only the driver can tell (a
    dma-buf from elsewhere, whose exporter decides how the CPU maps it).
    """
    align = device.cache_alignment
    if align <= 1:
        return 1
    raw = alloc.raw
    if raw.imported:
        return None
    if alloc.device is device:
        return align if raw.cached else 1
    # Another dmak device's buffer, imported here: its coherent memory is
    # uncached for the CPU only where that device does not snoop either.
    if raw.cached or alloc.device.cache_alignment <= 1:
        return align
    return 1


def _suggestion(bus: int, offset: int, nbytes: int, align: int) -> str:
    first = -(-bus // align) * align
    end = (bus + nbytes) // align * align
    if end <= first:
        return ""
    return (f" (the whole lines inside it: offset {offset + first - bus}, "
            f"{end - first} bytes)")


def range_error(bus: int, offset: int, nbytes: int, align: int,
                what: str = "S2MM range",
                size: Optional[int] = None) -> Optional[str]:
    """Why ``nbytes`` at ``offset`` (bus address ``bus``) of a cached buffer
    of ``size`` bytes may not be received into on a device needing
    ``align``-byte lines, or None when they may.

    The range may end where the buffer does: the rest of that line is
    padding no array holds. ``size=None`` (not known) counts only a start
    off a line against an end off one, as the driver refused the range.
    """
    starts_off = bus % align if align > 1 else 0
    ends_off = (bus + nbytes) % align if align > 1 else 0
    if ends_off and (offset + nbytes == size or
                     (size is None and starts_off)):
        ends_off = 0
    if not starts_off and not ends_off:
        return None
    wrong = []
    if starts_off:
        wrong.append(f"it starts {starts_off} bytes into a line")
    if ends_off:
        wrong.append(f"it ends {ends_off} bytes into one, short of the "
                     "buffer's end" if size is not None else
                     f"it ends {ends_off} bytes into one")
    return (f"{what} [offset {offset}, {nbytes} bytes) of a cached buffer "
            f"must start on a {align}-byte cache line and end on one or "
            f"with the buffer on this non-coherent device "
            f"({' and '.join(wrong)}): {_FIX}"
            f"{_suggestion(bus, offset, nbytes, align)}")


def slots_error(bus: int, offset: int, slot_bytes: int,
                align: int) -> Optional[str]:
    """Why slots of ``slot_bytes`` from ``offset`` (bus address ``bus``) of
    a cached buffer may not be captured into, or None when they may: each
    slot is a range of its own, so it must start and end on a line."""
    if align <= 1 or (bus % align == 0 and slot_bytes % align == 0):
        return None
    wrong = []
    if bus % align:
        wrong.append(f"slot 0 starts {bus % align} bytes into a line")
    if slot_bytes % align:
        wrong.append(f"slot_bytes {slot_bytes} is not a multiple of "
                     f"{align}")
    return (f"S2MM slots [offset {offset}, {slot_bytes} bytes each) of a "
            f"cached buffer must start and end on {align}-byte cache lines "
            f"on this non-coherent device ({' and '.join(wrong)}): use a "
            "coherent buffer (pydmak.allocate(..., cacheable=False)), or "
            f"slots a multiple of {align} bytes from a line")


def explain_einval(align: int, ranges: Sequence[tuple]) -> Optional[str]:
    """The cache-line reason for a driver's ``EINVAL``, if it is one.

    ``ranges`` holds ``(what, offset, nbytes)`` of the S2MM ranges of the
    refused request, whatever their buffers. Buffers start on a page, so
    an offset is on a line exactly when its bus address is. Their sizes
    are not known here: an end off a line is named only where the start is
    on one (the driver refused the range, so that end is not the buffer's).
    """
    for what, offset, nbytes in ranges:
        text = range_error(offset, offset, nbytes, align, what)
        if text:
            return text
    return None
