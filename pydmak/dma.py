"""AXI DMA transfers with PYNQ's API: ``DMA``, ``sendchannel``, ``recvchannel``.

Transfers queue in the kernel: ``transfer()`` returns at once, several may be
queued before any ``wait()``, and the driver starts each from the interrupt
that ends the one before. ``wait()`` sleeps in the kernel with the GIL
released; ``fileno()`` gives a file that is readable when a transfer of the
channel ended, for ``selectors`` and ``asyncio``.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import math
import os
import time
from collections import deque
from typing import Deque, Optional, Union


from . import _uapi
from ._libc import ioctl
from ._memory import address
from .buffer import DMABuffer
from .device import Device, default_device
from .errors import DmakError

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
    """One direction of an AXI DMA, as PYNQ's ``_SDMAChannel``."""

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

    def _locate(self, array, start: int, nbytes: int):
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
        if alloc.device is not self._dma.device:
            raise ValueError(
                f"the buffer belongs to {alloc.device!r}, this DMA uses "
                f"{self._dma.device!r}: allocate it with "
                "device=dma.device")
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
        if nbytes > info.max_transfer:
            raise ValueError(
                f"{nbytes} bytes is more than one transfer can move: at most "
                f"{info.max_transfer} ({info.length_width}-bit length "
                "register); split it, or build the IP with a wider "
                "xlnx,sg-length-width")
        offset = address(array) - alloc.vaddr + start
        bus_address = alloc.raw.dma_addr + offset
        if bus_address % info.alignment:
            raise ValueError(
                f"address {bus_address:#x} is not a multiple of "
                f"{info.alignment} bytes, as the IP without DRE needs")
        return alloc.raw.handle, offset, nbytes

    def transfer(self, array: DMABuffer, start: int = 0, nbytes: int = 0,
                 *, cookie: int = 0) -> int:
        """Queues a transfer of ``array[start:start+nbytes]`` (bytes).

        ``nbytes=0`` means to the end of the array. Returns the transfer's
        sequence number. The array must come from ``pydmak.allocate()`` on
        this DMA's device and be contiguous; a cached buffer is flushed (or
        invalidated, for a receive) by the driver.
        """
        handle, offset, nbytes = self._locate(array, start, nbytes)
        xfer = _uapi.dmak_xfer(channel=self._id, handle=handle,
                               offset=offset, length=nbytes, cookie=cookie)
        self._dma._submit(self, (xfer,))
        self._pending.append(xfer.seq)
        return xfer.seq

    # -- waiting ----------------------------------------------------------

    def _wait_once(self, seq: int, timeout_ms: int) -> _uapi.dmak_wait:
        arg = _uapi.dmak_wait(channel=self._id, seq=seq,
                              timeout_ms=timeout_ms)
        ioctl(self._dma.device.fileno(), _uapi.IOC_WAIT, arg)
        return arg

    def _wait_seq(self, seq: int, timeout: Optional[float]) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if deadline is None:
                ms = _uapi.WAIT_FOREVER
            else:
                left = max(0.0, deadline - time.monotonic())
                ms = min(math.ceil(left * 1000), _uapi.WAIT_FOREVER - 1)
            try:
                arg = self._wait_once(seq, ms)
                break
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
        if arg.status != _uapi.ST_OK:
            raise DMAError(self.name, arg.status, arg.dmasr, arg.bytes)
        return arg.bytes

    def wait(self, timeout: Optional[float] = None) -> int:
        """Waits until every queued transfer of this channel ended.

        Returns the bytes the last one moved (also in ``transferred``).
        Raises ``DMAError`` for a transfer that failed (the others are still
        waited for) and ``DMATimeoutError`` if ``timeout`` seconds pass
        first; ``None`` waits without limit. The GIL is released meanwhile.
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must not be negative, not {timeout}")
        deadline = None if timeout is None else time.monotonic() + timeout
        failure = None
        while self._pending:
            left = (None if deadline is None
                    else max(0.0, deadline - time.monotonic()))
            seq = self._pending[0]
            try:
                self.transferred = self._wait_seq(seq, left)
            except DMAError as exc:
                failure = failure or exc
            self._pending.popleft()
        if failure:
            raise failure
        return self.transferred

    async def wait_async(self) -> int:
        """Awaits the end of every queued transfer, as ``wait()``."""
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
                await done
        finally:
            loop.remove_reader(fd)
        return self.wait(timeout=0)

    def _ended(self, seq: int) -> bool:
        try:
            self._wait_once(seq, 0)
        except OSError as exc:
            if exc.errno == errno.ETIMEDOUT:
                return False
        return True

    # -- state and control -------------------------------------------------

    def _op(self, op: int, seq: int = 0) -> _uapi.dmak_chan_op:
        arg = _uapi.dmak_chan_op(channel=self._id, op=op, seq=seq)
        try:
            ioctl(self._dma.device.fileno(), _uapi.IOC_CHAN_OP, arg)
        except OSError as exc:
            raise self._dma.device._error("CHAN_OP", exc.errno) from None
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
        """
        self._op(_uapi.OP_RESET)
        for channel in (self._dma.sendchannel, self._dma.recvchannel):
            if channel is not None:
                channel._pending.clear()

    def cancel(self) -> None:
        """Cancels this channel's queued transfers (a running one by reset)."""
        for seq in list(self._pending):
            try:
                self._op(_uapi.OP_CANCEL, seq)
            except DmakError as exc:
                if exc.errno != errno.EALREADY:
                    raise
        self._pending.clear()

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

    ``device`` is a ``pydmak.Device``, a path, an index, or None for the
    device ``pydmak.allocate()`` uses by default. Buffers given to
    ``transfer()`` must be allocated on the same device.
    """

    def __init__(self, device: Union[Device, str, int, None] = None) -> None:
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
    def buffer_max_size(self) -> int:
        """The most bytes one transfer may move."""
        return self.info.max_transfer

    def _submit(self, channel: Optional[DMAChannel], xfers) -> None:
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
            raise self.device._error("SUBMIT", exc.errno) from None
        for i, xfer in enumerate(xfers):
            xfer.seq = array[i].seq

    def loopback(self, src: DMABuffer, dst: DMABuffer,
                 nbytes: int = 0) -> None:
        """Queues ``src`` on MM2S and ``dst`` on S2MM in one request.

        The pair enters both queues at once, so on a loopback the packet
        lands in ``dst`` even while other processes use the same DMA. Wait
        with ``recvchannel.wait()`` (and ``sendchannel.wait()``).
        """
        send = self.sendchannel._locate(src, 0, nbytes)
        recv = self.recvchannel._locate(dst, 0, 0)
        xfers = (_uapi.dmak_xfer(channel=_uapi.MM2S, handle=send[0],
                                 offset=send[1], length=send[2]),
                 _uapi.dmak_xfer(channel=_uapi.S2MM, handle=recv[0],
                                 offset=recv[1], length=recv[2]))
        self._submit(None, xfers)
        self.sendchannel._pending.append(xfers[0].seq)
        self.recvchannel._pending.append(xfers[1].seq)

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
        return f"<pydmak.DMA {self.device.path}>"
