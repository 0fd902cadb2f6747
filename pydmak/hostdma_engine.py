"""The queue, the workers and the requests behind :class:`HostDMA`.

A request is a :class:`concurrent.futures.Future` holding the pieces of its
copy (:class:`pydmak.hostdma_ops.Plan`); the queue hands pieces out in
submission order, to worker threads and to callers that wait. One lock
guards the queue and every request's bookkeeping; no user code (operators,
done callbacks) runs under it.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections import deque
from concurrent.futures import Future
from typing import Any, Callable, Dict, List, Optional, Set, Union

from .hostdma_ops import CopyOperator, Plan, overlap, plan_for

__all__ = ["Engine", "Operator", "Request"]

Operator = Union[CopyOperator, Callable[[Any, Any, Any], Any], None]

#: How far behind the queue's head a waiter may take its own request early.
JUMP_LOOKAHEAD = 16

_running = threading.local()            # .engine: whose piece this thread runs
_engines: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def _deadline(timeout: Optional[float]) -> Optional[float]:
    if timeout is None:
        return None
    if timeout < 0:
        raise ValueError(f"timeout must be >= 0 or None, not {timeout}")
    return time.monotonic() + timeout


def _remaining(deadline: Optional[float]) -> Optional[float]:
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


class Request(Future):
    """One copy submitted to a :class:`HostDMA`.

    A :class:`concurrent.futures.Future` whose :meth:`wait` (or
    ``result``) returns the operator's result or raises its exception. A
    request stays valid after the engine's :meth:`HostDMA.barrier` and
    :meth:`HostDMA.close`; it may be waited for any number of times.
    """

    def __init__(self, engine: "Engine", plan: Plan) -> None:
        super().__init__()
        self._engine = engine
        self._plan: Optional[Plan] = plan
        self._pieces = plan.pieces
        self._count = len(plan.pieces)
        self._next = 0                  # next piece to hand out
        self._left = self._count        # pieces not finished (or dropped)
        self._value = plan.result
        self._error: Optional[BaseException] = None
        self._seq = -1
        self._reported = False
        self._cancelling = False
        self._by_caller = 0             # pieces that callers are running

    def wait(self, timeout: Optional[float] = None) -> Any:
        """Waits until the copy is done; returns the operator's result.

        Raises the operator's exception, ``CancelledError`` if the request
        was cancelled, or ``TimeoutError`` after ``timeout`` seconds
        (``None``: no limit). A request that no worker has started yet, and
        that may start now without passing an earlier request that touches
        the same memory, is run by the calling thread. With
        ``num_threads=0``, the caller runs the queue up to this request.
        """
        return self.result(timeout)

    def result(self, timeout: Optional[float] = None) -> Any:
        """Same as :meth:`wait`."""
        deadline = _deadline(timeout)
        if not self.done():
            self._engine.help(self, deadline)
        try:
            return super().result(_remaining(deadline))
        except BaseException:
            self._engine.reported(self)
            raise

    def exception(self, timeout: Optional[float] = None
                  ) -> Optional[BaseException]:
        """Waits as :meth:`wait`; returns the exception instead of raising."""
        deadline = _deadline(timeout)
        if not self.done():
            self._engine.help(self, deadline)
        error = super().exception(_remaining(deadline))
        if error is not None:
            self._engine.reported(self)
        return error

    def cancel(self) -> bool:
        """Cancels the request if no part of it has started; True if so."""
        return self._engine.cancel(self)

    def __repr__(self) -> str:
        state = ("cancelled" if self.cancelled() else
                 "failed" if self.done() and self._error is not None else
                 "done" if self.done() else
                 "running" if self.running() else "queued")
        return f"<Request #{self._seq} {state}>"


def _await(request: Request, deadline: Optional[float]) -> None:
    """Waits for ``request`` to end, whatever the outcome; reports nothing."""
    try:
        Future.result(request, _remaining(deadline))
    except BaseException:
        if not request.done():
            raise


def _conflict(a: Request, b: Request) -> bool:
    """True unless ``a`` and ``b`` surely run the same in either order."""
    spans_a, spans_b = a._plan.spans, b._plan.spans
    if spans_a is None or spans_b is None:
        return True
    (dst_a, src_a), (dst_b, src_b) = spans_a, spans_b
    return (overlap(dst_a, dst_b) or overlap(dst_a, src_b) or
            overlap(src_a, dst_b))


class Engine:
    """The queue and the workers, apart from :class:`HostDMA` so that a
    forgotten engine is garbage collected and its workers stop."""

    def __init__(self, num_threads: int) -> None:
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._queue: "deque[Request]" = deque()
        self._outstanding: Dict[int, Request] = {}
        self._failures: Dict[int, Request] = {}   # failed, not yet raised
        self._seq = 0
        self._idle = 0
        self._closed = False
        self._forked = False            # inherited by fork: unusable
        self.num_threads = num_threads
        # Threads that may run pieces of one request: the workers, or a
        # worker and the waiting caller.
        self.parallel = max(num_threads, 2) if num_threads else 1
        self._busy = 0                  # pieces that workers are running
        self._active: Set[Request] = set()   # started, not finished
        self._helped: Set[Request] = set()   # ... with pieces run by callers
        self._stalled = 0               # workers waiting for a helped one
        self._threads: List[threading.Thread] = []
        try:
            for i in range(num_threads):
                thread = threading.Thread(target=self._worker, daemon=True,
                                          name=f"HostDMA-{i}")
                thread.start()
                self._threads.append(thread)
        except BaseException:
            self.shutdown()
            raise
        if num_threads:
            _engines.add(self)

    # ------------------------------------------------------------ submit

    def _check_forked(self) -> None:
        if self._forked:
            raise RuntimeError("this HostDMA was inherited through fork(): "
                               "its workers live in the parent process; "
                               "create a new HostDMA here")

    def submit(self, dst: Any, src: Any, op: Operator, arg: Any) -> Request:
        if self._closed:
            self._check_forked()
            raise RuntimeError("HostDMA is closed")
        request = Request(self, plan_for(op, dst, src, arg, self.parallel))
        with self._lock:
            if self._closed:
                raise RuntimeError("HostDMA is closed")
            request._seq = self._seq
            self._seq += 1
            self._outstanding[request._seq] = request
            self._queue.append(request)
            if self._idle:
                self._work.notify(min(self._idle, request._count))
        return request

    # ------------------------------------------------------------ run

    def _take(self, request: Request):
        """Hands out the next piece of ``request``, the queue's head (it
        leaves the queue with its last piece). Call with the lock held."""
        index = request._next
        request._next = index + 1
        if index == 0:
            self._active.add(request)
        if request._next == request._count:
            self._queue.popleft()
        return request, index, request._pieces[index]

    def _worker(self) -> None:
        lock, queue, work = self._lock, self._queue, self._work
        while True:
            with lock:
                while True:
                    if queue:
                        head = queue[0]
                        if not (self._helped and
                                self._conflict_in(head, self._helped)):
                            break
                        # A caller runs a request on the same memory: a
                        # worker would not run beside it, nor will this one.
                        self._stalled += 1
                        try:
                            work.wait()
                        finally:
                            self._stalled -= 1
                    elif self._closed:
                        return
                    else:
                        self._idle += 1
                        try:
                            work.wait()
                        finally:
                            self._idle -= 1
                job = self._take(head)
                self._busy += 1
            self._run(*job, worker=True)

    def help(self, request: Request, deadline: Optional[float]) -> None:
        """Runs pieces of ``request`` in the calling thread while allowed.

        Allowed: the request is at the head of the queue, or it is a single
        piece that touches no memory that an earlier queued request
        touches; with no workers, the queue's head, whatever it is. Never
        while another started request touches the same memory (and workers
        do not start a request beside one a caller runs): callers add no
        concurrency between overlapping requests to what the workers have.
        """
        if self._forked:
            self._check_forked()
        lock, queue = self._lock, self._queue
        while deadline is None or time.monotonic() < deadline:
            with lock:
                if request._next >= request._count:
                    return
                head = queue[0]
                if head is request or not self._threads:
                    owner = head
                elif self._may_jump(request):
                    owner = request
                else:
                    return
                blocker = self._conflict_in(owner, self._active)
                if blocker is None:
                    if owner is head:
                        job = self._take(head)
                    else:
                        queue.remove(owner)
                        owner._next = 1
                        self._active.add(owner)
                        job = (owner, 0, owner._pieces[0])
                    if (owner._count == 1 and owner._plan.inline and
                            (not self._threads or
                             not (self._busy or queue))):
                        # Nobody else has work: keep the GIL, saving the
                        # hand-off to a worker that wakes up meanwhile.
                        job = (owner, 0, owner._plan.inline)
                    owner._by_caller += 1
                    self._helped.add(owner)
            if blocker is None:
                self._run(*job)
            elif self._threads:
                return              # a worker takes it once blocker is done
            else:
                _await(blocker, deadline)   # another caller is running it

    @staticmethod
    def _conflict_in(request: Request, others: Set[Request]
                     ) -> Optional[Request]:
        """One of ``others``, not ``request``, on the same memory."""
        for other in others:
            if other is not request and _conflict(request, other):
                return other
        return None

    def _may_jump(self, request: Request) -> bool:
        if request._count != 1 or request._plan.spans is None:
            return False
        for depth, other in enumerate(self._queue):
            if other is request:
                return True
            if depth >= JUMP_LOOKAHEAD or _conflict(request, other):
                return False
        return False

    def _run(self, request: Request, index: int, piece,
             worker: bool = False) -> None:
        if index == 0:
            request.set_running_or_notify_cancel()
        function, args = piece
        custom = request._plan.custom
        if custom:   # user code: it must not wait for its own engine
            outer = getattr(_running, "engine", None)
            _running.engine = self
        error = value = None
        try:
            value = function(*args)
        except BaseException as exc:   # handed to the waiter, as Future does
            error = exc
        finally:
            if custom:
                _running.engine = outer
        with self._lock:
            if worker:
                self._busy -= 1
            else:
                request._by_caller -= 1
                if not request._by_caller:
                    self._helped.discard(request)
                    if self._stalled:
                        self._work.notify_all()
            request._left -= 1
            if error is not None and request._error is None:
                request._error = error
                dropped = request._count - request._next
                if dropped:   # the request failed: skip its other pieces
                    request._next = request._count
                    request._left -= dropped
                    self._queue.remove(request)
            if custom:
                request._value = value
            finished = request._left == 0
            if finished:
                self._active.discard(request)
        if finished:
            self._finish(request)
        if not worker and error is not None and \
                not isinstance(error, Exception):
            raise error   # KeyboardInterrupt in the caller: the user's too

    def _finish(self, request: Request) -> None:
        if request._error is None:
            Future.set_result(request, request._value)
        else:
            Future.set_exception(request, request._error)
        with self._lock:
            del self._outstanding[request._seq]
            if request._error is not None and not request._reported:
                self._failures[request._seq] = request
            request._plan = request._pieces = None   # let the buffers go

    # ------------------------------------------------------------ control

    def cancel(self, request: Request) -> bool:
        with self._lock:
            if request._cancelling:
                return True
            if request._next != 0:
                return False
            request._cancelling = True
            request._next = request._count
            self._queue.remove(request)
        Future.cancel(request)
        request.set_running_or_notify_cancel()   # wakes futures.wait()
        with self._lock:
            del self._outstanding[request._seq]
            request._plan = request._pieces = None
        return True

    def reported(self, request: Request) -> None:
        """Notes that ``request``'s exception reached the user."""
        if request.done() and request._error is not None:
            with self._lock:
                request._reported = True
                self._failures.pop(request._seq, None)

    def _check_caller(self, what: str) -> None:
        if (getattr(_running, "engine", None) is self or
                threading.current_thread() in self._threads):
            raise RuntimeError(f"{what}() called from an operator or a done "
                               f"callback of the same HostDMA would wait "
                               f"for itself")

    def barrier(self, timeout: Optional[float]) -> None:
        self._check_forked()
        self._check_caller("barrier")
        deadline = _deadline(timeout)
        with self._lock:
            limit = self._seq
            pending = list(self._outstanding.values())
        # Newest first: by the time it is done most others are, and each
        # wait that sleeps costs a wake-up.
        for request in reversed(pending):
            self.help(request, deadline)
            _await(request, deadline)
        with self._lock:
            failed = [r for r in self._failures.values() if r._seq < limit]
            failed += [r for r in pending
                       if r._error is not None and not r._reported]
            for request in failed:
                request._reported = True
                self._failures.pop(request._seq, None)
        if failed:
            raise min(failed, key=lambda r: r._seq)._error

    def close(self, cancel_pending: bool) -> None:
        if self._forked:
            return              # nothing of it runs in this process
        self._check_caller("close")
        with self._lock:
            self._closed = True
            queued = [r for r in self._queue if r._next == 0]
            self._work.notify_all()
        if cancel_pending:
            for request in queued:
                self.cancel(request)
        with self._lock:
            pending = list(self._outstanding.values())
        for request in pending:
            self.help(request, None)
            _await(request, None)
        for thread in self._threads:
            thread.join()
        _engines.discard(self)

    def shutdown(self) -> None:
        """Stops the workers once the queue is empty; does not wait."""
        with self._lock:
            self._closed = True
            self._work.notify_all()


@atexit.register
def _close_at_exit() -> None:
    # Workers are daemon threads: finish their copies before the interpreter
    # frees the memory they copy.
    for engine in list(_engines):
        engine.close(cancel_pending=False)


def _after_fork_in_child() -> None:
    # The workers did not follow: an engine that had some cannot run its
    # requests here. Say so rather than leave them queued forever.
    for engine in list(_engines):
        engine._forked = engine._closed = True
    _engines.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
