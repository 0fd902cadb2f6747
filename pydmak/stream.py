"""Continuous capture on S2MM: ``dma.recvchannel.stream()`` and its slots.

A :class:`CyclicStream` hands the S2MM engine of a scatter-gather IP a
ring of *slots* in one DMA buffer (``DMAK_IOC_CYCLIC``): the engine fills
them in order, 0, 1, ..., K-1, 0, ..., for as long as the stream is open,
with no request per packet and no gap between packets. Iterating over the
stream gives each filled slot as a :class:`Slot`, a zero-copy numpy view of
the bytes the slot received::

    buf = pydmak.allocate(8 * 4096, dtype="u2", device=dma.device)
    with dma.recvchannel.stream(buf, 8) as stream:
        for slot in stream:           # or: async for slot in stream
            process(slot)             # slot.seq, .index, .overrun, .sof, .eof

The engine never writes a slot that user space has not handed back, so a
slot's bytes cannot change while it is looked at (no torn slots): the slot
goes back to the engine when the next one is asked for, or earlier with
``slot.release()``. When every slot is full the engine stalls (on a stream
that can wait, such as the simulator's loopback, the source is
back-pressured and nothing is lost; a source that cannot wait loses data
there): ``stream.overruns`` counts those stalls and the slot after each has
``overrun`` set.

Completion records (``struct dmak_completion`` with ``DMAK_COMPL_CYCLIC``)
come from a channel file of the stream's own (``fileno()``), read with
``os.readv``; ``next()`` waits for them with ``poll()`` (GIL released),
``__anext__`` with the event loop's ``add_reader``.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import math
import numbers
import operator
import os
import select
import threading
import time
import weakref
from collections import deque
from typing import Deque, List, NamedTuple, Optional, Tuple

import numpy as np

from . import _uapi
from ._libc import ioctl
from ._memory import address
from .buffer import DMABuffer
from .cachelines import CacheLineError, line_rule, slots_error
from .device import DeviceInfo
from .dma import DMAError, DMATimeoutError
from .errors import DmakError

__all__ = ["CyclicStream", "Record", "Slot", "decode_records", "max_slots",
           "slot_array", "slot_layout"]

#: Records one ``readv`` takes (the kernel hands out at most 64 per read).
RECORD_BATCH = 64

#: Longest a blocked ``next()`` sleeps before it looks whether another
#: thread closed the stream (seconds).
_POLL_SLICE = 0.1


class Record(NamedTuple):
    """One cyclic completion record, decoded.

    ``seq`` counts filled slots from 1 since the capture started,
    ``index`` is the slot (0..slots-1), ``nbytes`` what it received,
    ``status`` a ``DMAK_ST_*`` number (0: the slot is good; else the
    capture ended in error), ``dmasr`` the status register, ``flags`` the
    ``DMAK_COMPL_*`` bits.
    """

    seq: int
    index: int
    nbytes: int
    status: int
    dmasr: int
    flags: int

    @property
    def sof(self) -> bool:
        """The slot starts a stream packet."""
        return bool(self.flags & _uapi.COMPL_SOF)

    @property
    def eof(self) -> bool:
        """The slot ends a stream packet."""
        return bool(self.flags & _uapi.COMPL_EOF)

    @property
    def overrun(self) -> bool:
        """Every slot was full (the engine stalled) before this one."""
        return bool(self.flags & _uapi.COMPL_OVERRUN)

    @property
    def lost_before(self) -> bool:
        """The kernel dropped records before this one (its queue was full)."""
        return bool(self.flags & _uapi.COMPL_OVERFLOW)


def decode_records(array, count: int) -> List[Record]:
    """The cyclic S2MM records among the first ``count`` of ``array``.

    ``array`` is a ctypes array of ``dmak_completion``; records of ordinary
    transfers (no ``DMAK_COMPL_CYCLIC``) and of MM2S are left out.
    """
    out = []
    for i in range(count):
        c = array[i]
        if c.channel == _uapi.S2MM and c.flags & _uapi.COMPL_CYCLIC:
            out.append(Record(c.seq, c.cookie, c.bytes, c.status, c.dmasr,
                              c.flags))
    return out


def max_slots(info: DeviceInfo) -> int:
    """The most slots a capture may have on ``info``'s IP.

    The ring's descriptors (``info.ring_size``), and at most
    ``DMAK_RECORDS`` (256): the kernel keeps that many records per channel
    of a file, and up to one per slot may wait to be read.
    """
    return min(info.ring_size, _uapi.RECORDS)


def _as_count(value, name: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, not "
                        f"{type(value).__name__}") from None


def slot_layout(nbytes: int, itemsize: int, slots: int,
                slot_bytes: Optional[int], info: DeviceInfo,
                line: int = 1) -> int:
    """Checks a capture's slots against a buffer and the IP; returns the
    bytes of one slot.

    ``nbytes`` and ``itemsize`` are the buffer's. ``slot_bytes=None``
    takes ``nbytes // slots`` rounded down to a multiple of the alignment
    the IP needs (``info.alignment``), of ``itemsize`` and of ``line``
    (the cache line a cached buffer's slots need on a device that does not
    snoop the CPU caches; :mod:`pydmak.cachelines` checks them). Raises
    ``TypeError`` for arguments that are not ints, ``ValueError`` for
    slots out of ``2..max_slots(info)``, a slot size that is not a
    multiple of the alignment or is more than one descriptor carries
    (``info.desc_max``), or slots that do not fit in the buffer.
    """
    slots = _as_count(slots, "slots")
    most = max_slots(info)
    if not 2 <= slots <= most:
        why = ("the descriptor ring's size (dmak module parameter "
               "ring_size)" if most == info.ring_size else
               f"the {_uapi.RECORDS} completion records the kernel keeps "
               "per channel")
        raise ValueError(f"slots must be 2..{most} ({why}), not {slots}")
    align = info.alignment
    if slot_bytes is None:
        unit = math.lcm(align, itemsize, line)
        slot_bytes = nbytes // slots // unit * unit
        if slot_bytes == 0:
            lines = f", of the {line}-byte cache lines" if line > 1 else ""
            raise ValueError(
                f"the buffer's {nbytes} bytes are too few for {slots} slots "
                f"of at least {unit} bytes each (a multiple of the "
                f"{align}-byte alignment{lines} and of the {itemsize}-byte "
                "items)")
    else:
        slot_bytes = _as_count(slot_bytes, "slot_bytes")
        if slot_bytes < 1:
            raise ValueError(f"slot_bytes must be at least 1, not "
                             f"{slot_bytes}")
        if slot_bytes % align:
            raise ValueError(
                f"slot_bytes {slot_bytes} is not a multiple of {align} "
                "bytes, as every slot address of an IP without DRE must be")
    if slot_bytes > info.desc_max:
        raise ValueError(
            f"slots of {slot_bytes} bytes are more than one descriptor "
            f"carries: at most {info.desc_max} bytes per slot "
            f"(2**{info.length_width} - 1 rounded down to 64); use more, "
            "smaller slots (pass slot_bytes), or build the IP with a "
            "wider xlnx,sg-length-width")
    if slots * slot_bytes > nbytes:
        raise ValueError(
            f"{slots} slots of {slot_bytes} bytes need {slots * slot_bytes} "
            f"bytes; the buffer has {nbytes}")
    return slot_bytes


def slot_array(flat: np.ndarray, start: int, nbytes: int, dtype: np.dtype,
               shape: Optional[Tuple[int, ...]] = None) -> np.ndarray:
    """The view of ``nbytes`` bytes of ``flat`` (uint8) from ``start``.

    In ``dtype`` when ``nbytes`` is a whole number of its items (then in
    ``shape`` too, if given and it holds exactly that many items), else
    as uint8: a slot that received a partial item shows its bytes.
    """
    view = flat[start:start + nbytes]
    if nbytes % dtype.itemsize:
        return view
    view = view.view(dtype)
    if shape is not None and math.prod(shape) == view.size:
        view = view.reshape(shape)
    return view


class Slot(DMABuffer):
    """A filled slot of a :class:`CyclicStream`: a view of its bytes.

    ``seq`` (1, 2, ... since the stream started), ``index`` (which slot of
    the buffer), ``overrun`` (every slot was full, and the engine stalled,
    before this one was filled), ``sof``/``eof`` (the slot starts/ends a
    stream packet: a packet longer than a slot spans several, the first
    with ``sof``, the last with ``eof``).

    The bytes stay as received until the slot is released: by
    ``release()``, or when the next slot is taken from the stream. After
    that the engine refills the memory: copy what must be kept. A slot is
    a ``DMABuffer`` view, so it can be sent on (``sendchannel.transfer``)
    without a copy while it is held.
    """

    seq = 0
    index = 0
    overrun = False
    sof = False
    eof = False
    _stream: Optional["CyclicStream"] = None

    def __array_finalize__(self, obj) -> None:
        super().__array_finalize__(obj)
        if isinstance(obj, Slot):
            self.seq, self.index, self.overrun = obj.seq, obj.index, \
                obj.overrun
            self.sof, self.eof, self._stream = obj.sof, obj.eof, obj._stream

    def release(self) -> None:
        """Hands the slot (and every earlier one) back to the engine.

        Idempotent; a no-op once a later slot was released or the stream
        closed.
        """
        if self._stream is not None:
            self._stream._release(self.seq)


class _Handle:
    """What closing a capture needs, apart from the stream (finalizer)."""

    __slots__ = ("device", "fd", "stopped")

    def __init__(self, device, fd: int) -> None:
        self.device = device
        self.fd = fd
        self.stopped = False

    def stop(self) -> None:
        """STOP, once; errors mean the capture has ended already."""
        if self.stopped:
            return
        self.stopped = True
        arg = _uapi.dmak_cyclic(channel=_uapi.S2MM, op=_uapi.CYCLIC_STOP)
        try:
            ioctl(self.device.fileno(), _uapi.IOC_CYCLIC, arg)
        except (OSError, ValueError):
            # ENOENT: a reset or the device's removal ended it; ValueError:
            # the device file is closed, which stopped it.
            pass

    def shutdown(self) -> None:
        self.stop()
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            try:
                os.close(fd)
            except OSError:
                pass


_REASONS = {
    errno.EOPNOTSUPP: "a cyclic capture needs an AXI DMA built with "
                      "scatter-gather; this one is in direct mode",
    errno.EINVAL: "the kernel refused the slots: slots 2..ring_size, "
                  "slot size 1..desc_max and aligned, inside the buffer",
    errno.ENOENT: "the buffer was freed (or is another open file's)",
    errno.ETIMEDOUT: "the channel did not halt to take the capture; reset() "
                     "it",
    errno.ENOTTY: "the loaded dmak module has no cyclic capture "
                  "(DMAK_IOC_CYCLIC): install the module that goes with "
                  "this pydmak",
}


class CyclicStream:
    """A continuous capture on S2MM into ``slots`` slots of one buffer.

    Made by ``dma.recvchannel.stream(buffer, slots, slot_bytes=None, *,
    timeout=None)``; see the module's text. An iterator (``next()`` waits
    up to ``timeout`` seconds, ``None`` without limit, then raises
    ``DMATimeoutError``; the capture goes on) and an async iterator of
    :class:`Slot`. A DMA error ends the capture: the iterator raises
    ``DMAError``; ``close()`` the stream and ``reset()`` the channel.
    ``close()`` (or leaving a ``with`` block, or closing the device) stops
    the capture and gives S2MM back to ``transfer()``; iteration then ends.

    A stream is for one consumer: ``close()`` may come from another thread
    (a blocked ``next()`` sees it within 0.1 s), nothing else may.
    """

    def __init__(self, channel, buffer: DMABuffer, slots: int,
                 slot_bytes: Optional[int] = None, *,
                 timeout: Optional[float] = None) -> None:
        dma = channel._dma
        device = dma.device
        info = dma.info
        if not info.sg:
            raise DmakError(
                errno.EOPNOTSUPP,
                f"{device.path}: S2MM: stream() needs an AXI DMA built with "
                "scatter-gather (a cyclic capture is a ring of "
                "descriptors); this one is in direct mode: queue receives "
                "with transfer_many() instead")
        if not isinstance(buffer, DMABuffer):
            raise TypeError("stream() takes an array from pydmak.allocate(), "
                            f"not {type(buffer).__name__}")
        alloc = buffer._alloc()
        if not buffer.flags.c_contiguous:
            raise ValueError("stream() needs a C-contiguous array (a strided "
                             "view is not one block of memory)")
        self._timeout = _check_timeout(timeout)
        offset = address(buffer) - alloc.vaddr
        raw = alloc.on(device)      # imported here if another device's
        line = line_rule(alloc, device)
        self.slot_bytes = slot_layout(
            buffer.nbytes, buffer.itemsize, slots, slot_bytes, info,
            device.cache_alignment if line is None else line)
        """Bytes of one slot."""
        self.slots = operator.index(slots)
        """Slots in the ring."""
        bus = raw.dma_addr + offset
        if bus % info.alignment:
            raise ValueError(
                f"the buffer's address {bus:#x} is not a multiple of "
                f"{info.alignment} bytes, as the IP without DRE needs")
        why = slots_error(bus, offset, self.slot_bytes, line or 1)
        if why:
            raise CacheLineError(f"{device.path}: {why}")
        self._offset = offset

        self._channel = channel
        self._device = device
        self._buffer = buffer
        self._flat = buffer.reshape(-1).view(np.uint8)
        self._dtype = buffer.dtype
        self._shape = (buffer.shape[1:] if buffer.ndim > 1
                       and buffer.shape[0] == self.slots
                       and buffer[0].nbytes == self.slot_bytes else None)
        self._queue: Deque[Record] = deque()
        self._records = (_uapi.dmak_completion * RECORD_BATCH)()
        self._expected = 1          # seq of the next record
        self._yielded = 0           # seq of the newest slot handed out
        self._released = 0          # seq released so far
        self._failure: Optional[DmakError] = None
        self._closed = False
        self._last = (0, 0, 0)      # filled, released, overruns
        self._lock = threading.Lock()
        self._inside = 0            # waits that use the channel file
        self._waiter: Optional[asyncio.Future] = None

        fd_arg = _uapi.dmak_channel_fd(channel=_uapi.S2MM)
        try:
            ioctl(device.fileno(), _uapi.IOC_CHANNEL_FD, fd_arg)
        except OSError as exc:
            raise device._error("CHANNEL_FD", exc.errno) from None
        self._handle = _Handle(device, fd_arg.fd)
        self._finalizer = weakref.finalize(self, self._handle.shutdown)
        try:
            os.set_blocking(fd_arg.fd, False)
            self._poller = select.poll()
            self._poller.register(fd_arg.fd, select.POLLIN)
            self._drain()           # records of earlier transfers
            self._start(raw.handle, offset)
        except BaseException:
            self._handle.stopped = True     # never started
            self._finalizer()
            raise

    # -- the kernel's side ---------------------------------------------------

    def _cyclic(self, op: int, **fields) -> _uapi.dmak_cyclic:
        arg = _uapi.dmak_cyclic(channel=_uapi.S2MM, op=op, **fields)
        ioctl(self._device.fileno(), _uapi.IOC_CYCLIC, arg)
        return arg

    def _start(self, handle: int, offset: int) -> None:
        try:
            self._cyclic(_uapi.CYCLIC_START, handle=handle, slots=self.slots,
                         offset=offset, slot_size=self.slot_bytes)
        except OSError as exc:
            raise self._start_error(exc.errno) from None

    def _start_error(self, err: int) -> DmakError:
        path = self._device.path
        if err == errno.EIO:
            return DMAError("S2MM", _uapi.ST_ABORTED, 0, detail=(
                "S2MM is halted after an error; the capture did not start"))
        if err == errno.EBUSY:
            try:
                queued = self._channel.queued
            except DmakError:
                queued = 0
            if queued:
                what = ("1 transfer is" if queued == 1
                        else f"{queued} transfers are")
                why = (f"{what} queued on S2MM: wait() for them, or "
                       "cancel() them, first")
            else:
                why = ("a capture already runs on S2MM (one at a time per "
                       "channel): close() that stream first")
            return DmakError(err, f"{path}: CYCLIC START: {why}")
        if err == errno.ENODEV:
            return self._device._error("CYCLIC START", err)
        why = err == errno.EINVAL and slots_error(
            self._offset, self._offset, self.slot_bytes,
            self._device.cache_alignment)
        if why:
            return CacheLineError(f"{path}: {why}")
        return DmakError(err, f"{path}: CYCLIC START: "
                         f"{_REASONS.get(err, os.strerror(err))}")

    def _status(self) -> Tuple[int, int, int]:
        """STATUS: (filled, released, overruns); the last values known
        once the capture has ended."""
        if not self._closed:
            try:
                arg = self._cyclic(_uapi.CYCLIC_STATUS)
            except OSError as exc:
                if exc.errno != errno.ENOENT:   # not ended by a reset
                    raise self._device._error("CYCLIC STATUS",
                                              exc.errno) from None
            except ValueError:
                pass                            # the device was closed
            else:
                self._last = (arg.filled, arg.released, arg.overruns)
                return self._last
        filled, released, overruns = self._last
        self._last = (max(filled, self._expected - 1),
                      max(released, self._released), overruns)
        return self._last

    @property
    def filled(self) -> int:
        """Slots the engine filled since the stream started."""
        return self._status()[0]

    @property
    def released(self) -> int:
        """Slots handed back to the engine since the stream started."""
        return self._status()[1]

    @property
    def overruns(self) -> int:
        """Times every slot was full and the engine stalled."""
        return self._status()[2]

    @property
    def timeout(self) -> Optional[float]:
        """Seconds each wait for a slot may take (None: no limit)."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: Optional[float]) -> None:
        self._timeout = _check_timeout(value)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def fileno(self) -> int:
        """The stream's channel file: readable when a slot filled."""
        if self._handle.fd < 0:
            raise ValueError("the stream is closed")
        return self._handle.fd

    def _release(self, seq: int) -> None:
        seq = min(seq, self._yielded)   # never past what was handed out
        if seq <= self._released or self._closed or self._failure:
            return
        try:
            arg = self._cyclic(_uapi.CYCLIC_RELEASE, seq=seq)
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.ENOENT):
                return      # an error or a reset ended it: a record says so
            raise self._device._error("CYCLIC RELEASE", exc.errno) from None
        except ValueError:
            return          # the device was closed: the capture is over
        self._released = seq
        self._last = (arg.filled, arg.released, arg.overruns)

    # -- records -------------------------------------------------------------

    def _read(self) -> int:
        """Reads what records are there (never blocks); returns how many."""
        try:
            n = os.readv(self._handle.fd, [self._records])
        except BlockingIOError:
            return 0
        count = n // ctypes.sizeof(_uapi.dmak_completion)
        self._queue.extend(decode_records(self._records, count))
        return count

    def _drain(self) -> None:
        while self._read():
            pass
        self._queue.clear()

    def _pop(self) -> Optional[Record]:
        """The next record to hand out, or None; raises for an error."""
        while True:
            if not self._queue and not self._read():
                return None
            while self._queue:
                rec = self._queue.popleft()
                if rec.seq < self._expected:
                    continue        # of an earlier capture of this file
                if rec.status != _uapi.ST_OK:
                    self._failure = DMAError(
                        "S2MM", rec.status, rec.dmasr, detail=(
                            f"the cyclic capture ended at slot {rec.index} "
                            f"after {rec.seq - 1} filled slots: close() the "
                            "stream"))
                    raise self._failure
                # Records are dropped newest first, so lost slots show as
                # a gap in seq; lost_before alone means records of other
                # transfers of this file went (the file read none of them).
                if rec.seq > self._expected:
                    self._failure = DmakError(
                        errno.EOVERFLOW,
                        f"{self._device.path}: S2MM: the records of slots "
                        f"{self._expected}..{rec.seq - 1} were lost: another "
                        "reader of this device took them, or more slots "
                        f"filled than the kernel keeps records "
                        f"({_uapi.RECORDS}); close() the stream")
                    raise self._failure
                self._expected = rec.seq + 1
                return rec

    def _slot(self, rec: Record) -> Slot:
        nbytes = min(rec.nbytes, self.slot_bytes)
        view = slot_array(self._flat, rec.index * self.slot_bytes, nbytes,
                          self._dtype,
                          self._shape if nbytes == self.slot_bytes else None)
        slot = view.view(Slot)
        slot.seq, slot.index, slot.overrun = rec.seq, rec.index, rec.overrun
        slot.sof, slot.eof, slot._stream = rec.sof, rec.eof, self
        self._yielded = rec.seq
        return slot

    def _enter(self) -> bool:
        """Counts a wait on the channel file; False once closed."""
        with self._lock:
            if self._closed:
                return False
            self._inside += 1
            return True

    def _leave(self) -> None:
        with self._lock:
            self._inside -= 1
            last = self._closed and self._inside == 0
        if last:
            self._finalizer()       # close() left the file to us

    def _begin(self) -> bool:
        """What every next() does first; False when iteration is over."""
        if self._closed:
            return False
        if self._device.closed:     # closing the device stopped it
            self._handle.stopped = True
            self.close()
            return False
        if self._failure is not None:
            raise self._failure
        self._release(self._yielded)
        return True

    def _timeout_error(self) -> DMATimeoutError:
        return DMATimeoutError(
            errno.ETIMEDOUT,
            f"{self._device.path}: S2MM: no slot filled within "
            f"{self._timeout} s; the capture goes on: ask again, or close() "
            "the stream")

    # -- iteration -----------------------------------------------------------

    def _deadline(self) -> Optional[float]:
        """When a wait for the next slot gives up (monotonic), or None."""
        if self._timeout is None:
            return None
        return time.monotonic() + self._timeout

    def __iter__(self) -> "CyclicStream":
        return self

    def __next__(self) -> Slot:
        """The next filled slot; releases the one before."""
        if not self._begin() or not self._enter():
            raise StopIteration
        try:
            deadline = self._deadline()
            while True:
                rec = self._pop()
                if rec is not None:
                    return self._slot(rec)
                if self._closed:
                    raise StopIteration
                wait = _POLL_SLICE
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise self._timeout_error()
                    wait = min(wait, left)
                # Sleeps with the GIL released; a signal that does not
                # raise is retried by Python with the time left.
                self._poller.poll(max(1, math.ceil(wait * 1000)))
        finally:
            self._leave()

    def __aiter__(self) -> "CyclicStream":
        return self

    async def __anext__(self) -> Slot:
        """As ``next()``, awaiting readiness with the event loop."""
        if not self._begin() or not self._enter():
            raise StopAsyncIteration
        try:
            deadline = self._deadline()
            while True:
                rec = self._pop()
                if rec is not None:
                    return self._slot(rec)
                if self._closed:
                    raise StopAsyncIteration
                await self._readable(deadline)
        finally:
            self._leave()

    async def _readable(self, deadline: Optional[float]) -> None:
        loop = asyncio.get_running_loop()
        fd = self._handle.fd
        done = loop.create_future()

        def ready() -> None:
            loop.remove_reader(fd)          # one-shot
            if not done.done():
                done.set_result(None)

        self._waiter = done
        loop.add_reader(fd, ready)
        try:
            if deadline is None:
                await done
            else:
                left = max(0.0, deadline - time.monotonic())
                try:
                    await asyncio.wait_for(done, left)
                except asyncio.TimeoutError:
                    raise self._timeout_error() from None
        finally:
            self._waiter = None
            loop.remove_reader(fd)

    # -- ending --------------------------------------------------------------

    def close(self) -> None:
        """Stops the capture; idempotent. S2MM takes transfers again.

        ``filled``, ``released`` and ``overruns`` keep their last values.
        Slots handed out stay readable (nothing writes them any more).
        """
        if self._closed:
            return
        try:
            self._status()
        except DmakError:
            pass
        with self._lock:
            self._closed = True
            idle = self._inside == 0
        self._handle.stop()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            try:
                waiter.get_loop().call_soon_threadsafe(_wake, waiter)
            except RuntimeError:
                pass                # its loop is closed: nobody waits
        if idle:
            self._finalizer()

    def __enter__(self) -> "CyclicStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"seq={self._yielded}"
        return (f"<pydmak.CyclicStream S2MM of {self._device.path}: "
                f"{self.slots} slots of {self.slot_bytes} bytes, {state}>")


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def _check_timeout(timeout) -> Optional[float]:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise TypeError(f"timeout must be a number of seconds or None, not "
                        f"{type(timeout).__name__}")
    if math.isnan(timeout) or timeout < 0:
        raise ValueError(f"timeout must not be negative, not {timeout}")
    return float(timeout)
