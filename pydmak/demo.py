"""pydmak demo: ``python -m pydmak.demo [DEVICE]``.

Opens a dmak device (the first one by default), prints what the AXI DMA
instance offers, then allocates a coherent and a cached buffer, maps them,
writes a pattern and reads it back. ``make demo`` runs it in a QEMU guest
against the simulated IP.
"""

from __future__ import annotations

import sys
import time
from typing import List, Optional

import numpy as np

import pydmak


def _describe(dev: pydmak.Device) -> None:
    info = dev.info
    channels = [name for name, present in
                (("MM2S", info.mm2s), ("S2MM", info.s2mm)) if present]
    print(f"{dev.path}: AXI DMA, ABI {info.abi_version}")
    print(f"  channels      {', '.join(channels)}"
          f" ({'scatter-gather' if info.sg else 'direct'} mode)")
    print(f"  length reg    {info.length_width} bits "
          f"(max {info.max_transfer} bytes per transfer)")
    print(f"  address       {info.addr_width} bits, data "
          f"{info.data_width} bits, alignment {info.alignment} B")
    print(f"  buffer quota  {info.buf_quota >> 20} MiB per open file")


def _round_trip(dev: pydmak.Device, cacheable: bool, nbytes: int) -> bool:
    kind = "cached" if cacheable else "coherent"
    words = nbytes // 4
    with pydmak.allocate(words, dtype="u4", cacheable=cacheable,
                         device=dev) as buf:
        pattern = (np.arange(words, dtype=np.uint32) * 2654435761) & 0xffffffff
        start = time.perf_counter()
        buf[:] = pattern
        buf.flush()
        buf.invalidate()
        ok = bool(np.array_equal(buf, pattern))
        elapsed = time.perf_counter() - start
        print(f"  {kind:9s} {nbytes >> 10:6d} KiB at {buf.physical_address:#012x}"
              f"  write+read {nbytes / elapsed / 1e6:8.1f} MB/s  "
              f"{'bytes match' if ok else 'MISMATCH'}")
        view = buf[words // 2:]
        print(f"            a view from word {words // 2} starts at "
              f"{view.physical_address:#012x}")
    return ok


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the demo; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        dev = pydmak.Device(argv[0] if argv else None)
    except OSError as exc:
        print(f"pydmak demo: {exc}", file=sys.stderr)
        return 1
    with dev:
        _describe(dev)
        print("buffers (allocate, mmap, write, read back):")
        ok = all(_round_trip(dev, cacheable, 1 << 20)
                 for cacheable in (False, True))
    print("demo passed" if ok else "demo FAILED: data did not read back")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
