"""AXI DMA transfers with PYNQ's API: ``DMA`` and its two channels.

Transfers queue in the kernel: ``transfer()`` returns at once, several may be
queued before any ``wait()``, and the driver starts each from the interrupt
that ends the one before. ``wait()`` sleeps in the kernel with the GIL
released; ``fileno()`` gives a file that is readable when a transfer of the
channel ended, for ``selectors`` and ``asyncio``.

The same calls work whether the IP is built in direct (register) mode or
with scatter-gather (SG); ``DMA.info.sg`` says which. With SG the driver
keeps one descriptor ring per channel in the kernel, splits a long transfer
over several descriptors and keeps the ring full from the interrupt, and
four things become possible:

- a *gather*: ``transfer([a, (b, start, nbytes), c])`` sends (or, on S2MM,
  scatters one received packet into) several pieces as one stream packet;
- ``transfer_many(items)`` queues many transfers with few ioctls;
- ``coalesce(threshold, delay_us)``: one interrupt per ``threshold``
  transfers, or ``delay_us`` after the last one;
- ``recvchannel.stream(buffer, slots)``: a continuous capture into a ring
  of slots, iterated slot by slot (:mod:`pydmak.stream`).
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import math
import numbers
import operator
import os
import time
from collections import deque
from typing import (TYPE_CHECKING, Deque, Iterable, Iterator, List,
                    Optional, Sequence, Tuple, Union)

import numpy as np

from . import _uapi
from ._libc import ioctl
from ._memory import address
from .buffer import DMABuffer
from .cachelines import (CacheLineError, explain_einval, line_rule,
                         range_error)
from .device import (Device, DeviceEntry, DeviceInfo, default_device,
                     limit_text)
from .errors import DmakError
from .registers import RegisterMap

if TYPE_CHECKING:
    from .stream import CyclicStream

__all__ = ["DMA", "DMAChannel", "DMAError", "DMATimeoutError"]

_CHANNEL_NAMES = {_uapi.MM2S: "MM2S", _uapi.S2MM: "S2MM"}
_ATTRS = {_uapi.MM2S: "sendchannel", _uapi.S2MM: "recvchannel"}

STATUS_TEXT = {
    _uapi.ST_DMA_INT_ERR: "DMAIntErr (internal error: a stream packet "
                          "longer than the receive buffer, or a bad length)",
    _uapi.ST_DMA_SLV_ERR: "DMASlvErr (slave error: the memory or the "
                          "interconnect refused an access)",
    _uapi.ST_DMA_DEC_ERR: "DMADecErr (decode error: the address is not "
                          "backed by memory or any slave)",
    _uapi.ST_SG_INT_ERR: "SGIntErr (scatter-gather internal error)",
    _uapi.ST_SG_SLV_ERR: "SGSlvErr (scatter-gather slave error)",
    _uapi.ST_SG_DEC_ERR: "SGDecErr (scatter-gather decode error)",
    _uapi.ST_CANCELLED: "cancelled",
    _uapi.ST_RESET: "ended by a reset of the core",
    _uapi.ST_ABORTED: "not run: an earlier transfer on the channel failed",
    _uapi.ST_REMOVED: "the device was removed",
}

_HW_ERRORS = {_uapi.ST_DMA_INT_ERR, _uapi.ST_DMA_SLV_ERR,
              _uapi.ST_DMA_DEC_ERR, _uapi.ST_SG_INT_ERR,
              _uapi.ST_SG_SLV_ERR, _uapi.ST_SG_DEC_ERR}

_HALTED = 1 << 0
_IDLE = 1 << 1

#: The most a coalescing threshold or delay field holds (DMACR: 8 bits).
COALESCE_MAX = 255

#: One piece of a transfer: an array, a start and a byte count (0: to the
#: end of the array).
Piece = Tuple[np.ndarray, int, int]
#: What ``transfer()`` takes as ``array``: an array, a piece tuple
#: ``(array, start, nbytes)`` (start and nbytes optional), or a list of
#: those for a gather.
Transfer = Union[np.ndarray, tuple, Sequence]

_GATHER_TYPE_TEXT = ("an array from pydmak.allocate() or a tuple "
                     "(array, start, nbytes)")


def _is_piece_tuple(obj) -> bool:
    """True for ``(array,)``, ``(array, start)``, ``(array, start, nbytes)``.

    A tuple of several arrays is a gather instead; ``(array,)`` means the
    same either way.
    """
    return (isinstance(obj, tuple) and 1 <= len(obj) <= 3
            and isinstance(obj[0], np.ndarray)
            and not any(isinstance(v, (np.ndarray, list, tuple))
                        for v in obj[1:]))


def _as_piece(obj, where: str) -> Piece:
    if isinstance(obj, np.ndarray):
        return obj, 0, 0
    if _is_piece_tuple(obj):
        return (obj + (0, 0))[:3]
    raise TypeError(f"{where} must be {_GATHER_TYPE_TEXT}, not "
                    f"{type(obj).__name__}")


def normalise_pieces(array: Transfer, start: int = 0,
                     nbytes: int = 0) -> List[Piece]:
    """The pieces ``(array, start, nbytes)`` of one transfer, in order.

    ``array`` is an array (``start`` and ``nbytes`` apply to it), a tuple
    ``(array, start, nbytes)`` (start and nbytes optional), or a list or
    tuple of arrays and such tuples: a gather, sent as one packet. Only the
    shape is checked here; the pieces' arrays, ranges and alignment are
    checked against the device later.
    """
    if isinstance(array, np.ndarray):
        return [(array, start, nbytes)]
    if not isinstance(array, (list, tuple)):
        raise TypeError(f"a transfer takes {_GATHER_TYPE_TEXT}, or a list "
                        f"of those for a gather, not {type(array).__name__}")
    if not (start == 0 and nbytes == 0):
        raise TypeError("start and nbytes go with a single array: give each "
                        "piece of a gather as (array, start, nbytes)")
    if _is_piece_tuple(array):
        return [_as_piece(array, "the piece")]
    if not array:
        raise ValueError("a gather needs at least one piece, not an empty "
                         f"{type(array).__name__}")
    return [_as_piece(p, f"piece {i} of the gather")
            for i, p in enumerate(array)]


def check_packet(lengths: Sequence[int], info: DeviceInfo) -> None:
    """Checks the piece lengths of one transfer against ``info``'s limits.

    Raises ``ValueError`` if a piece but the last is not a multiple of the
    alignment an IP without DRE needs, if the total passes
    ``info.max_transfer``, or (SG) if the pieces need more descriptors than
    the ring holds.
    """
    n = len(lengths)
    if n > _uapi.SUBMIT_MAX:
        raise ValueError(f"a gather of {n} pieces is more than one request "
                         f"carries: at most {_uapi.SUBMIT_MAX}")
    align = info.alignment
    for i, length in enumerate(lengths[:-1]):
        if length % align:
            raise ValueError(
                f"piece {i} of the gather is {length} bytes: without DRE, "
                f"every piece but the last must be a multiple of {align} "
                "bytes long")
    total = sum(lengths)
    if total > info.max_transfer:
        what = (f"{total} bytes" if n == 1
                else f"{total} bytes (the {n} pieces together)")
        raise ValueError(f"{what} is more than one transfer can move: "
                         f"{limit_text(info)}")
    if info.sg and info.desc_max and n > 1:
        ndesc = sum(-(-length // info.desc_max) for length in lengths)
        if ndesc > info.ring_size:
            raise ValueError(
                f"the {n} pieces need {ndesc} descriptors (one per "
                f"{info.desc_max} bytes of each piece), more than the "
                f"{info.ring_size} the ring holds: use fewer pieces, or "
                "raise the dmak module parameter ring_size")


def s2mm_ranges(xfers: Sequence[_uapi.dmak_xfer]
                ) -> Iterator[Tuple[str, int, int]]:
    """``(what, offset, nbytes)`` of each S2MM entry of a SUBMIT, ``what``
    naming it as an error message does (a piece of a gather by its
    index)."""
    run: List[_uapi.dmak_xfer] = []
    for xfer in xfers:
        run.append(xfer)
        if xfer.flags & _uapi.XFER_MORE:
            continue
        for i, x in enumerate(run):
            if x.channel == _uapi.S2MM:
                what = ("S2MM range" if len(run) == 1 else
                        f"piece {i} of the gather: S2MM range")
                yield what, x.offset, x.length
        run = []


def chunk_groups(groups: Iterable[Sequence], limit: int = _uapi.SUBMIT_MAX
                 ) -> Iterator[List[Sequence]]:
    """Packs groups of entries into runs of at most ``limit`` entries.

    Keeps the order and never splits a group (the entries of one gathered
    transfer go to the kernel in one request); each group must have 1 to
    ``limit`` entries.
    """
    run: List[Sequence] = []
    count = 0
    for group in groups:
        if not 1 <= len(group) <= limit:
            raise ValueError(f"a group of {len(group)} entries does not fit "
                             f"in a request of {limit}")
        if count + len(group) > limit:
            yield run
            run, count = [], 0
        run.append(group)
        count += len(group)
    if run:
        yield run


def delay_units(delay_us: Optional[float], unit_ns: int) -> int:
    """Converts a coalescing delay in µs to DMACR.IRQDelay units.

    Rounds to the nearest unit, and to at least 1 unit for any delay above
    0; ``None`` or 0 is 0 (no delay). Raises ``ValueError`` for a negative
    delay or one longer than 255 units.
    """
    if delay_us is None:
        return 0
    if isinstance(delay_us, bool) or not isinstance(delay_us, numbers.Real):
        raise TypeError(f"delay_us must be a number of microseconds, not "
                        f"{type(delay_us).__name__}")
    if math.isnan(delay_us) or delay_us < 0:
        raise ValueError(f"delay_us must not be negative, not {delay_us}")
    if delay_us == 0:
        return 0
    if unit_ns <= 0:
        raise ValueError("this IP reports no delay unit, so delay_us must "
                         "be 0 or None")
    limit_us = COALESCE_MAX * unit_ns / 1000
    exact = delay_us * 1000 / unit_ns
    if exact >= COALESCE_MAX + 0.5:     # also inf; rounds to more than 255
        raise ValueError(
            f"delay_us {delay_us} is too long: at most {limit_us:g} µs "
            f"({COALESCE_MAX} units of {unit_ns} ns)")
    return max(1, math.floor(exact + 0.5))


def coalesce_args(threshold: int, delay_us: Optional[float],
                  unit_ns: int) -> Tuple[int, int]:
    """Checks ``coalesce()``'s arguments: ``(threshold, delay units)``."""
    if isinstance(threshold, bool):
        raise TypeError("threshold must be an int, not bool")
    try:
        threshold = operator.index(threshold)
    except TypeError:
        raise TypeError(f"threshold must be an int, not "
                        f"{type(threshold).__name__}") from None
    if not 1 <= threshold <= COALESCE_MAX:
        raise ValueError(f"threshold must be 1..{COALESCE_MAX} transfers "
                         f"per interrupt, not {threshold}")
    units = delay_units(delay_us, unit_ns)
    if threshold > 1 and units == 0:
        raise ValueError(
            f"threshold {threshold} needs a delay: without one, the last "
            f"transfers of a burst of fewer than {threshold} would never "
            "raise an interrupt; give delay_us (up to "
            f"{COALESCE_MAX * unit_ns / 1000:g} µs)")
    return threshold, units


class DMAError(DmakError):
    """A transfer ended in error.

    ``channel`` ("MM2S" or "S2MM"), ``status`` (a ``DMAK_ST_*`` number),
    ``reason`` (what it means), ``dmasr`` (the status register as the
    transfer ended) and ``transferred`` (bytes moved) say what happened.
    """

    def __init__(self, channel: str, status: int, dmasr: int,
                 transferred: int = 0, detail: str = "") -> None:
        self.channel = channel
        self.status = status
        self.reason = STATUS_TEXT.get(status, f"status {status}")
        self.dmasr = dmasr
        self.transferred = transferred
        text = f"{channel} transfer failed: {self.reason}; DMASR={dmasr:#010x}"
        if status in _HW_ERRORS or status == _uapi.ST_ABORTED:
            attr = _ATTRS[_uapi.MM2S if channel == "MM2S" else _uapi.S2MM]
            text += (f". The channel is halted: call dma.{attr}.reset() to "
                     "recover (the IP resets both channels: their "
                     "unfinished transfers end)")
        if detail:
            text += f" ({detail})"
        super().__init__(errno.EIO, text)


class DMATimeoutError(DmakError, TimeoutError):
    """A wait ran out of time; the transfer is still queued."""


class DMAChannel:
    """One direction of an AXI DMA, as PYNQ's ``_SDMAChannel``.

    ``dma.sendchannel`` is MM2S (memory to stream), ``dma.recvchannel`` is
    S2MM (stream to memory). Transfers queue in the kernel; ``wait()``
    collects them.
    """

    def __init__(self, dma: "DMA", channel: int) -> None:
        self._dma = dma
        self._id = channel
        self.name = _CHANNEL_NAMES[channel]
        self._pending: Deque[int] = deque()
        self._fd: Optional[int] = None
        self.transferred = 0
        """Bytes the last waited transfer moved (S2MM: received)."""

    def __repr__(self) -> str:
        return f"<pydmak.DMAChannel {self.name} of {self._dma.device.path}>"

    # -- queueing ---------------------------------------------------------

    def _locate(self, array, start: int, nbytes: int) -> Tuple[int, int, int]:
        """Checks one piece; returns ``(handle, offset, nbytes)``.

        The transfer limits are checked on the whole transfer, by
        :func:`check_packet`.
        """
        if not isinstance(array, DMABuffer):
            raise TypeError("transfer() takes an array from "
                            f"pydmak.allocate(), not {type(array).__name__}")
        for name, value in (("start", start), ("nbytes", nbytes)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, not "
                                f"{type(value).__name__}")
            if value < 0:
                raise ValueError(f"{name} must not be negative, not {value}")
        alloc = array._alloc()
        if not array.flags.c_contiguous:
            raise ValueError("transfer() needs a C-contiguous array "
                             "(a strided view is not one block of memory)")
        if start > array.nbytes:
            raise ValueError(f"start {start} is past the array's "
                             f"{array.nbytes} bytes")
        nbytes = nbytes or array.nbytes - start
        if nbytes == 0:
            raise ValueError("nothing to transfer: the array is empty")
        if start + nbytes > array.nbytes:
            raise ValueError(f"start {start} + nbytes {nbytes} passes the "
                             f"array's {array.nbytes} bytes")
        info = self._dma.info
        offset = address(array) - alloc.vaddr + start
        # A buffer of another device is imported here once, as a dma-buf.
        raw = alloc.on(self._dma.device)
        bus_address = raw.dma_addr + offset
        if bus_address % info.alignment:
            raise ValueError(
                f"address {bus_address:#x} is not a multiple of "
                f"{info.alignment} bytes, as the IP without DRE needs")
        if self._id == _uapi.S2MM:
            why = range_error(bus_address, offset, nbytes,
                              line_rule(alloc, self._dma.device) or 1,
                              size=raw.size)
            if why:
                raise CacheLineError(f"{self._dma.device.path}: {why}")
        return raw.handle, offset, nbytes

    def _plan(self, array: Transfer, start: int = 0, nbytes: int = 0,
              cookie: int = 0) -> List[_uapi.dmak_xfer]:
        """Checks one transfer; returns its SUBMIT entries (MORE chained)."""
        pieces = normalise_pieces(array, start, nbytes)
        info = self._dma.info
        if len(pieces) > 1 and not info.sg:
            raise DmakError(
                errno.EOPNOTSUPP,
                f"{self._dma.device.path}: {self.name}: a gather of "
                f"{len(pieces)} pieces into one packet needs an AXI DMA "
                "built with scatter-gather; this one is in direct mode: "
                "copy the pieces into one buffer, or send them as separate "
                "packets")
        located = []
        for i, piece in enumerate(pieces):
            try:
                located.append(self._locate(*piece))
            except CacheLineError as exc:
                if len(pieces) == 1:
                    raise
                path, _, why = exc.strerror.partition(": ")
                raise CacheLineError(f"{path}: piece {i} of the gather: "
                                     f"{why}") from None
        check_packet([length for _, _, length in located], info)
        last = len(located) - 1
        return [_uapi.dmak_xfer(channel=self._id, handle=handle,
                                offset=offset, length=length, cookie=cookie,
                                flags=_uapi.XFER_MORE if i < last else 0)
                for i, (handle, offset, length) in enumerate(located)]

    def transfer(self, array: Transfer, start: int = 0, nbytes: int = 0,
                 *, cookie: int = 0) -> int:
        """Queues a transfer of ``array[start:start+nbytes]`` (bytes).

        ``nbytes=0`` means to the end of the array. Returns the transfer's
        sequence number. The array must come from ``pydmak.allocate()`` (on
        any dmak device: another device's buffer is imported here once, as
        a dma-buf) or ``pydmak.from_dmabuf()`` and be contiguous; a
        cached buffer is flushed (or invalidated, for a receive) by the
        driver. One transfer is one
        stream packet, up to ``dma.buffer_max_size`` bytes (with SG the
        driver splits it over descriptors).

        ``array`` may also be a list of pieces, each an array or a tuple
        ``(array, start, nbytes)`` (start and nbytes optional): a gather,
        sent as one packet (on S2MM, one packet scattered over the pieces
        in order). Gathering several pieces needs an IP with scatter-gather
        (``DmakError`` with errno ``EOPNOTSUPP`` otherwise); without DRE,
        every piece but the last must be a multiple of
        ``dma.info.alignment`` bytes long.

        On a device that does not snoop the CPU caches, each piece S2MM
        receives into cached memory must start and end on a cache line,
        ``dma.device.cache_alignment`` bytes (``CacheLineError``, a
        ``ValueError``, otherwise; see :mod:`pydmak.cachelines`).
        """
        xfers = self._plan(array, start, nbytes, cookie)
        self._dma._submit(self, xfers)
        self._pending.append(xfers[-1].seq)
        return xfers[-1].seq

    def transfer_many(self, items: Iterable[Transfer], *,
                      cookie: int = 0) -> List[int]:
        """Queues many transfers with as few requests to the kernel as can be.

        Each item is what :meth:`transfer` takes as ``array``: an array, a
        tuple ``(array, start, nbytes)``, or a list of pieces for a gather.
        Every item is checked before any is queued; they are then queued
        in order, up to ``DMAK_SUBMIT_MAX`` (256) entries per request.
        Returns the transfers' sequence numbers. Should the kernel refuse a
        later request (a channel halted meanwhile, or it holds as many
        transfers as it keeps results of: ``EAGAIN``), the transfers of the
        earlier ones stay queued, ``wait()`` collects them, and the error's
        ``queued`` lists their seqs. More than ``DMAK_RESULTS`` (1024)
        items is a ``ValueError``: a channel never holds that many.
        """
        if isinstance(items, np.ndarray) or (_is_piece_tuple(items)
                                             and len(items) > 1):
            raise TypeError("transfer_many() takes a sequence of transfers; "
                            "for a single one use transfer()")
        groups = []
        for i, item in enumerate(items):
            try:
                groups.append(self._plan(item, cookie=cookie))
            except CacheLineError as exc:
                raise CacheLineError(f"item {i}: {exc.strerror}") from None
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"item {i}: {exc}") from None
        if len(groups) > _uapi.RESULTS:
            raise ValueError(
                f"{len(groups)} transfers are more than a channel holds "
                f"outstanding ({_uapi.RESULTS}): queue them in parts, "
                "waiting for each")
        seqs: List[int] = []
        for run in chunk_groups(groups):
            try:
                self._dma._submit(self, [x for group in run for x in group])
            except DmakError as exc:
                if seqs:        # the earlier requests' transfers stay
                    exc.queued = list(seqs)
                    exc.strerror = (f"{exc.strerror} (items 0 to "
                                    f"{len(seqs) - 1} were queued before: "
                                    "wait() collects them; their seqs are "
                                    "in this error's .queued)")
                raise
            for group in run:
                self._pending.append(group[-1].seq)
                seqs.append(group[-1].seq)
        return seqs

    # -- waiting ----------------------------------------------------------

    def _wait_once(self, seq: int, timeout_ms: int,
                   peek: bool = False) -> _uapi.dmak_wait:
        arg = _uapi.dmak_wait(channel=self._id, seq=seq,
                              timeout_ms=timeout_ms,
                              flags=_uapi.WAIT_PEEK if peek else 0)
        ioctl(self._dma.device.fileno(), _uapi.IOC_WAIT, arg)
        return arg

    def _wait_result(self, seq: int,
                     timeout: Optional[float]) -> _uapi.dmak_wait:
        """Waits until transfer ``seq`` ended; returns how, whatever it is.

        Retries after a signal with the time left; raises
        ``DMATimeoutError`` when ``timeout`` seconds pass first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if deadline is None:
                ms = _uapi.WAIT_FOREVER
            else:
                left = max(0.0, deadline - time.monotonic())
                ms = min(math.ceil(left * 1000), _uapi.WAIT_FOREVER - 1)
            try:
                return self._wait_once(seq, ms)
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue  # a signal handler ran (and did not raise)
                if exc.errno == errno.ETIMEDOUT:
                    raise DMATimeoutError(
                        errno.ETIMEDOUT,
                        f"{self.name}: transfer {seq} did not end within "
                        f"{timeout} s; it stays queued: wait() again, or "
                        "cancel() or reset() the channel") from None
                raise self._dma.device._error("WAIT", exc.errno) from None

    def wait(self, timeout: Optional[float] = None) -> int:
        """Waits until every queued transfer of this channel ended.

        Returns the bytes the newest one moved (also in ``transferred``).
        Raises ``DMAError`` for the first transfer that failed (all of them
        are collected anyway) and ``DMATimeoutError`` if ``timeout``
        seconds pass first (the transfers stay queued); ``None`` waits
        without limit. The GIL is released meanwhile.

        One request to the kernel suffices however many are queued: the
        channel ends its transfers in order and an error halts it, failing
        the rest, so once the newest ended well every earlier one did too.
        Only after a failure are they looked at one by one.
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must not be negative, not {timeout}")
        if not self._pending:
            return self.transferred
        deadline = None if timeout is None else time.monotonic() + timeout
        newest = self._pending[-1]
        try:
            last = self._wait_result(newest, timeout)
        except DmakError as exc:
            if exc.errno == errno.ENOENT:
                # Ended so long ago that no result is kept, nor of the
                # earlier ones: nothing is left to wait for.
                self._pending.clear()
            raise
        if last.status == _uapi.ST_OK:
            self._pending.clear()
            self.transferred = last.bytes
            return last.bytes
        failure = None
        while self._pending:
            seq = self._pending[0]
            if seq == newest:
                arg = last
            else:
                left = (None if deadline is None
                        else max(0.0, deadline - time.monotonic()))
                try:
                    arg = self._wait_result(seq, left)
                except DmakError as exc:
                    if exc.errno != errno.ENOENT:
                        raise
                    # Its result is no longer kept (DMAK_RESULTS later
                    # transfers ended): nothing to report for it.
                    self._pending.popleft()
                    continue
            self._pending.popleft()
            if arg.status != _uapi.ST_OK and failure is None:
                failure = DMAError(self.name, arg.status, arg.dmasr,
                                   arg.bytes)
        self.transferred = last.bytes
        try:
            raise failure
        finally:
            # No cycle (this frame, the error, its traceback): the caller's
            # buffers and file go as soon as it lets go of the error.
            del failure

    async def wait_async(self, timeout: Optional[float] = None) -> int:
        """Awaits the end of every queued transfer, as ``wait()``.

        ``timeout`` seconds (``None``: no limit) pass first: raises
        ``DMATimeoutError``, and the transfers stay queued. The device
        going away ends the wait with a ``DmakError`` (``ENODEV``).
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must not be negative, not {timeout}")
        if not self._pending:
            return self.transferred
        loop = asyncio.get_running_loop()
        fd = self.fileno()
        last = self._pending[-1]
        done = loop.create_future()
        record = _uapi.dmak_completion()

        def readable() -> None:
            try:
                while os.readv(fd, [record]) == ctypes.sizeof(record):
                    if record.seq >= last and not done.done():
                        done.set_result(None)
            except BlockingIOError:
                pass
            except OSError as exc:
                if not done.done():
                    done.set_exception(exc)

        os.set_blocking(fd, False)
        loop.add_reader(fd, readable)
        try:
            if not self._ended(last):
                await asyncio.wait_for(done, timeout)
        except asyncio.TimeoutError:
            raise DMATimeoutError(
                errno.ETIMEDOUT,
                f"{self.name}: transfer {last} did not end within {timeout} "
                "s; it stays queued: wait() again, or cancel() or reset() "
                "the channel") from None
        except OSError as exc:
            raise self._dma.device._error("read", exc.errno) from None
        finally:
            loop.remove_reader(fd)
        return self.wait(timeout=0)

    def _ended(self, seq: int) -> bool:
        try:
            self._wait_once(seq, 0, peek=True)   # a look: records stay
        except OSError as exc:
            if exc.errno == errno.ETIMEDOUT:
                return False
        return True

    # -- state and control -------------------------------------------------

    def _op(self, op: int, seq: int = 0, *, what: str = "CHAN_OP",
            **fields) -> _uapi.dmak_chan_op:
        arg = _uapi.dmak_chan_op(channel=self._id, op=op, seq=seq, **fields)
        try:
            ioctl(self._dma.device.fileno(), _uapi.IOC_CHAN_OP, arg)
        except OSError as exc:
            raise self._dma.device._error(
                what, exc.errno, threshold=arg.irq_threshold,
                delay=arg.irq_delay) from None
        return arg

    @property
    def running(self) -> bool:
        """True while the engine runs (DMASR.Halted clear)."""
        return not self._op(_uapi.OP_STATUS).dmasr & _HALTED

    @property
    def idle(self) -> bool:
        """True when the engine finished its transfer (DMASR.Idle)."""
        return bool(self._op(_uapi.OP_STATUS).dmasr & _IDLE)

    @property
    def error(self) -> Optional[str]:
        """Why the channel is halted on an error, or None."""
        status = self._op(_uapi.OP_STATUS).error
        return STATUS_TEXT.get(status, str(status)) if status else None

    @property
    def queued(self) -> int:
        """Transfers queued or running on the channel (any submitter)."""
        return self._op(_uapi.OP_STATUS).queued

    @property
    def interrupts(self) -> int:
        """Interrupts the channel has handled since the module loaded."""
        return self._op(_uapi.OP_STATUS).irqs

    @property
    def coalescing(self) -> Tuple[int, float]:
        """``(threshold, delay_us)``: the channel's interrupt coalescing.

        An interrupt comes after ``threshold`` transfers ended, or
        ``delay_us`` after the last one ended (0: no delay). Set it with
        :meth:`coalesce`.
        """
        arg = self._op(_uapi.OP_STATUS)
        return (arg.irq_threshold,
                arg.irq_delay * self._dma.info.delay_unit_ns / 1000)

    def coalesce(self, threshold: int,
                 delay_us: Optional[float] = None) -> None:
        """Sets interrupt coalescing (SG only): fewer interrupts per transfer.

        The channel then interrupts once ``threshold`` (1..255) transfers
        have ended, or ``delay_us`` microseconds after the last one ended
        if fewer did. ``delay_us`` is rounded to the IP's delay unit
        (``dma.info.delay_unit_ns``; any delay above 0 is at least one
        unit) and may be at most 255 units; a threshold above 1 needs a
        delay. ``coalesce(1)`` interrupts for every transfer. Applies from
        the next interrupt on. On an IP without scatter-gather raises
        ``DmakError`` with errno ``EOPNOTSUPP``.
        """
        info = self._dma.info
        if not info.sg:
            raise DmakError(
                errno.EOPNOTSUPP,
                f"{self._dma.device.path}: {self.name}: interrupt "
                "coalescing needs an AXI DMA built with scatter-gather; "
                "this one is in direct mode (one interrupt per transfer)")
        threshold, units = coalesce_args(threshold, delay_us,
                                         info.delay_unit_ns)
        self._op(_uapi.OP_COALESCE, what="COALESCE",
                 irq_threshold=threshold, irq_delay=units)

    def start(self) -> None:
        """Lets the channel run queued transfers again after ``stop()``."""
        self._op(_uapi.OP_START)

    def stop(self) -> None:
        """Halts the channel once its running transfer ends."""
        self._op(_uapi.OP_STOP)

    def reset(self) -> None:
        """Resets the core after an error or a stuck transfer.

        The IP has one reset for both channels: every unfinished transfer on
        either channel ends (status "reset"); both channels work again.
        While another open file has transfers on the core it takes
        ``CAP_SYS_RAWIO`` (``DmakError`` ``EPERM`` otherwise), unless a
        channel is halted on an error.
        """
        self._op(_uapi.OP_RESET, what="RESET")
        for channel in (self._dma.sendchannel, self._dma.recvchannel):
            if channel is not None:
                channel._pending.clear()

    def cancel(self) -> None:
        """Cancels this channel's queued transfers (a running one by reset).

        Stopping a running one resets the core; while another open file
        has a transfer running that takes ``CAP_SYS_RAWIO`` (``DmakError``
        ``EBUSY`` otherwise).
        """
        for seq in list(self._pending):
            try:
                self._op(_uapi.OP_CANCEL, seq, what="CANCEL")
            except DmakError as exc:
                # ended: lately (EALREADY), or so long ago that its
                # result is not kept (ENOENT)
                if exc.errno not in (errno.EALREADY, errno.ENOENT):
                    raise
        self._pending.clear()

    def stream(self, buffer: DMABuffer, slots: int,
               slot_bytes: Optional[int] = None, *,
               timeout: Optional[float] = None) -> "CyclicStream":
        """Captures the stream continuously into ``slots`` slots of ``buffer``.

        S2MM of an SG IP only. Returns a :class:`pydmak.stream.CyclicStream`:
        iterate over it (``for`` or ``async for``) for each filled slot, a
        zero-copy view of the bytes it received; a slot goes back to the
        engine when the next is taken (or by ``slot.release()``), and the
        engine never overwrites one still held. ``buffer`` comes from
        ``pydmak.allocate()`` (on any dmak device) and is C-contiguous;
        slot i is bytes ``i * slot_bytes`` to ``(i + 1) * slot_bytes`` of it.
        ``slot_bytes`` defaults to ``buffer.nbytes // slots`` rounded down
        to a multiple of ``info.alignment`` and of the item size (of a
        cache line too, for cached memory on a device that does not snoop
        the CPU caches, where each slot must start and end on one:
        ``CacheLineError`` otherwise), and may be at most
        ``info.desc_max``; ``slots`` is 2 to ``info.ring_size`` (and at
        most 256). ``timeout`` limits each wait for a slot
        (``DMATimeoutError``); ``None`` waits without limit. While the
        stream is open, ``transfer()`` on this channel raises ``DmakError``
        (``EBUSY``); ``close()`` it (or use ``with``) to end the capture.
        """
        if self._id != _uapi.S2MM:
            raise ValueError("stream() captures on the receive channel: use "
                             "dma.recvchannel.stream(buffer, slots)")
        from .stream import CyclicStream
        return CyclicStream(self, buffer, slots, slot_bytes, timeout=timeout)

    def fileno(self) -> int:
        """A file readable when a transfer of this channel ended."""
        if self._fd is None:
            arg = _uapi.dmak_channel_fd(channel=self._id)
            ioctl(self._dma.device.fileno(), _uapi.IOC_CHANNEL_FD, arg)
            self._fd = arg.fd
        return self._fd

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class DMA:
    """An AXI DMA instance, as PYNQ's ``pynq.lib.dma.DMA``.

    ``device`` is a ``pydmak.Device``, anything ``Device()`` takes (the
    IP's name such as ``"axi_dma_0"``, its node name, its register base
    address such as ``0x40400000``, an index, a path, an entry of
    ``pydmak.devices()``), or None for the device ``pydmak.allocate()``
    uses by default. Buffers given to
    ``transfer()`` must be allocated on the same device. ``info`` says what
    the IP offers: ``info.sg`` whether it has scatter-gather (the driver
    then keeps a ring of ``info.ring_size`` descriptors per channel),
    ``info.max_transfer`` the largest transfer.
    """

    def __init__(self, device: Union[Device, DeviceEntry, str, int, None]
                 = None) -> None:
        if device is None:
            self.device = default_device()
            self._own = False
        elif isinstance(device, Device):
            self.device = device
            self._own = False
        else:
            self.device = Device(device)
            self._own = True
        self.info = self.device.info
        self.sendchannel = DMAChannel(self, _uapi.MM2S) \
            if self.info.mm2s else None
        self.recvchannel = DMAChannel(self, _uapi.S2MM) \
            if self.info.s2mm else None

    @property
    def register_map(self) -> RegisterMap:
        """The IP's registers, read-only and read live on each access:
        ``dma.register_map.MM2S_DMASR.Halted`` (see
        :mod:`pydmak.registers`)."""
        return RegisterMap(self.device.registers, self.info)

    @property
    def buffer_max_size(self) -> int:
        """The most bytes one transfer may move.

        ``2**length_width - 1`` in direct mode; with scatter-gather,
        ``info.desc_max * info.ring_size`` (the dmak module parameter
        ``ring_size`` sets the ring).
        """
        return self.info.max_transfer

    def _submit(self, channel: Optional[DMAChannel],
                xfers: Sequence[_uapi.dmak_xfer]) -> None:
        """One SUBMIT of ``xfers``; writes each entry's seq back."""
        array = (_uapi.dmak_xfer * len(xfers))(*xfers)
        arg = _uapi.dmak_submit(xfers=ctypes.addressof(array),
                                count=len(xfers))
        try:
            ioctl(self.device.fileno(), _uapi.IOC_SUBMIT, arg)
        except OSError as exc:
            if exc.errno == errno.EIO:
                name = channel.name if channel else "a channel"
                raise DMAError(name, _uapi.ST_ABORTED, 0, detail=(
                    f"{name} is halted after an error")) from None
            if exc.errno == errno.EBUSY:
                raise DmakError(errno.EBUSY, (
                    f"{self.device.path}: SUBMIT: S2MM is capturing: a "
                    "stream() of this DMA (or another open file) owns the "
                    "channel; close() the stream to transfer on it "
                    "again")) from None
            if exc.errno == errno.EINVAL:
                why = explain_einval(self.device.cache_alignment,
                                     s2mm_ranges(xfers))
                if why:
                    raise CacheLineError(f"{self.device.path}: {why}") \
                        from None
            raise self.device._error("SUBMIT", exc.errno) from None
        for i, xfer in enumerate(xfers):
            xfer.seq = array[i].seq

    def loopback(self, src: Transfer, dst: Transfer,
                 nbytes: int = 0) -> None:
        """Queues ``src`` on MM2S and ``dst`` on S2MM in one request.

        The pair enters both queues at once, so on a loopback the packet
        lands in ``dst`` even while other processes use the same DMA. Wait
        with ``recvchannel.wait()`` (and ``sendchannel.wait()``). ``nbytes``
        limits a single ``src`` array; ``src`` and ``dst`` may also be
        lists of pieces, as ``transfer()`` takes (SG only).
        """
        if self.sendchannel is None or self.recvchannel is None:
            raise ValueError(f"{self.device.path} does not have both an "
                             "MM2S and an S2MM channel to loop")
        send = self.sendchannel._plan(src, 0, nbytes)
        recv = self.recvchannel._plan(dst)
        self._submit(None, send + recv)
        self.sendchannel._pending.append(send[-1].seq)
        self.recvchannel._pending.append(recv[-1].seq)

    def close(self) -> None:
        """Closes the channel files (and the device, if this DMA opened it)."""
        for ch in (self.sendchannel, self.recvchannel):
            if ch is not None:
                ch._close()
        if self._own:
            self.device.close()

    def __enter__(self) -> "DMA":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = (f"sg ring_size={self.info.ring_size}" if self.info.sg
                else "direct")
        return (f"<pydmak.DMA {self.device.path} {mode} "
                f"max_transfer={self.info.max_transfer}>")
