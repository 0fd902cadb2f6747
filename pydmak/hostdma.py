"""HostDMA: copies between host buffers, run by a pool of worker threads.

The Python counterpart of AML's ``aml_dma_linux``: a FIFO request queue
served by worker threads that run copy operators. A request is a
:class:`concurrent.futures.Future`; large copies are split into pieces that
several workers run at once, and a caller that waits for a request it could
start itself runs it in place instead of waking a worker.

    >>> import numpy as np
    >>> from pydmak.hostdma import HostDMA
    >>> src = np.arange(12.0).reshape(3, 4)
    >>> with HostDMA(2) as dma:
    ...     dst = dma.copy(np.empty((4, 3)), src.T)
    >>> bool((dst == src.T).all())
    True

See docs/hostdma.md for the guarantees (FIFO, barrier, cancel, close).
"""

from __future__ import annotations

import os
import weakref
from typing import Any, Optional

from .hostdma_engine import Engine, Operator, Request
from .hostdma_ops import CopyOperator, copy_1d, copy_generic, memcpy, transform

__all__ = ["HostDMA", "Request", "CopyOperator", "copy_1d", "copy_generic",
           "memcpy", "transform"]


def _default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class HostDMA:
    """A copy engine: a FIFO request queue served by worker threads.

    ``num_threads`` workers (``None``: one per CPU; ``0``: none, and the
    work runs in the caller at :meth:`Request.wait`, :meth:`barrier` and
    :meth:`close`). Requests are handed out in the order they were
    submitted; a large copy is split into pieces run by several workers.

    Use it as a context manager: leaving the block waits for every request
    and raises the first failure that nobody has seen (see :meth:`barrier`),
    then closes the engine.
    """

    __slots__ = ("_engine", "_finalizer", "__weakref__")

    def __init__(self, num_threads: Optional[int] = None) -> None:
        if num_threads is None:
            num_threads = _default_threads()
        elif isinstance(num_threads, bool) or not isinstance(num_threads,
                                                             int):
            raise TypeError(f"num_threads must be an int or None, not "
                            f"{type(num_threads).__name__}")
        elif num_threads < 0:
            raise ValueError(f"num_threads must be >= 0, not {num_threads}")
        self._engine = Engine(num_threads)
        self._finalizer = weakref.finalize(self, self._engine.shutdown)

    @property
    def num_threads(self) -> int:
        """Number of worker threads (0: work runs in the waiting caller)."""
        return self._engine.num_threads

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._engine._closed

    def async_copy(self, dst: Any, src: Any, op: Operator = None,
                   op_arg: Any = None) -> Request:
        """Queues a copy from ``src`` to ``dst``; returns its request.

        ``op`` is a built-in operator (:data:`copy_generic`, the default,
        :data:`copy_1d`, :data:`memcpy`, :data:`transform`) or any callable
        ``op(dst, src, op_arg)``, whose return value the request returns.
        Built-in operators check their arguments here and raise
        ``TypeError`` or ``ValueError`` before anything is queued. Raises
        ``RuntimeError`` on a closed engine.
        """
        return self._engine.submit(dst, src, op, op_arg)

    def copy(self, dst: Any, src: Any, op: Operator = None,
             op_arg: Any = None) -> Any:
        """Copies and waits: ``async_copy(...).wait()``."""
        return self._engine.submit(dst, src, op, op_arg).wait()

    def barrier(self, timeout: Optional[float] = None) -> None:
        """Waits for every request submitted before the call.

        Then raises the exception of the first request, in submission
        order, that failed and whose exception was not raised to the user
        yet (by :meth:`Request.wait` or an earlier barrier); every request
        keeps its own result and exception and may still be waited for.
        Raises ``TimeoutError`` if the requests are not all done within
        ``timeout`` seconds. Must not be called from an operator of this
        engine.
        """
        self._engine.barrier(timeout)

    def close(self, cancel_pending: bool = False) -> None:
        """Stops the engine; later submissions raise ``RuntimeError``.

        Pending requests are run to the end (drained), or with
        ``cancel_pending=True`` those not started yet are cancelled. Returns
        once every request is done and the workers have exited. Does not
        raise operator failures (the requests hold them). Calling it again
        does nothing more.
        """
        self._engine.close(cancel_pending)
        self._finalizer.detach()

    def __enter__(self) -> "HostDMA":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.barrier()
        finally:
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<HostDMA {state}, {self.num_threads} threads>"
