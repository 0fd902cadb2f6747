"""HostDMA engine: requests, FIFO order, cancel, barrier, close, threads.

Ordering is made deterministic with operators that block on events; no
test asserts on timing. A bounded timeout only stands in for "does not
finish while something it must wait for is held".
"""

import concurrent.futures
import gc
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from pydmak import hostdma_ops
from pydmak.hostdma import CopyOperator, HostDMA, Request, memcpy

HOLD = 10.0          # seconds a test may wait for something that must come


class Gate:
    """A custom operator that blocks until opened; records that it ran."""

    def __init__(self):
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.ran = False

    def __call__(self, dst, src, arg):
        self.entered.set()
        assert self.opened.wait(HOLD), "gate never opened"
        self.ran = True
        return arg

    def open(self):
        self.opened.set()


def recorder(log):
    def op(dst, src, arg):
        log.append(arg)
        return arg
    return op


def fail(dst, src, arg):
    raise arg


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def dma(request):
    engine = HostDMA(request.param)
    yield engine
    engine.close()


def _pieces_operator(pieces, spans=None):
    """A CopyOperator whose copy is the given pieces (functions)."""
    def planner(dst, src, arg, parallel):
        return hostdma_ops.Plan([(p, ()) for p in pieces], dst, spans)
    return CopyOperator(planner)


NOWHERE = ((0, 0), (0, 0))      # the footprint of a request touching nothing


def gated(gate, spans=NOWHERE):
    """An operator running ``gate``; its footprint is ``spans``."""
    return _pieces_operator([lambda: gate(None, None, None)], spans)


def blocked(dma):
    """Occupies every worker of ``dma`` (touching no memory); the gates."""
    gates = [Gate() for _ in range(dma.num_threads)]
    for gate in gates:
        dma.async_copy(None, None, gated(gate))
    for gate in gates:
        assert gate.entered.wait(HOLD)
    return gates


def open_all(gates):
    for gate in gates:
        gate.open()


# ---------------------------------------------------------------- basics


def test_copy_returns_dst_with_the_bytes():
    src = np.arange(1000, dtype=np.int32)
    dst = np.zeros_like(src)
    with HostDMA(2) as dma:
        assert dma.copy(dst, src) is dst
    np.testing.assert_array_equal(dst, src)


def test_request_is_a_future(dma):
    src = np.arange(10.0)
    dst = np.empty_like(src)
    request = dma.async_copy(dst, src)
    assert isinstance(request, Request)
    assert isinstance(request, concurrent.futures.Future)
    assert request.wait() is dst
    assert request.done() and not request.cancelled()
    assert request.wait() is dst            # any number of times
    assert request.result() is dst
    np.testing.assert_array_equal(dst, src)


def test_custom_operator_result_and_arguments(dma):
    seen = []

    def op(dst, src, arg):
        seen.append((dst, src, arg))
        return "result"
    assert dma.copy("d", "s", op, 42) == "result"
    assert seen == [("d", "s", 42)]


def test_operator_exception_propagates(dma):
    error = ValueError("boom")
    request = dma.async_copy(None, None, fail, error)
    with pytest.raises(ValueError) as info:
        request.wait()
    assert info.value is error
    assert request.exception() is error
    with pytest.raises(ValueError):
        dma.copy(None, None, fail, ValueError("sync"))


def test_done_callbacks_and_futures_wait(dma):
    called = threading.Event()
    src = np.ones(100)
    dsts = [np.zeros(100) for _ in range(20)]
    requests = [dma.async_copy(d, src) for d in dsts]
    requests[-1].add_done_callback(lambda r: called.set())
    done, not_done = concurrent.futures.wait(requests, timeout=HOLD)
    assert not not_done
    assert called.wait(HOLD)
    assert all(np.all(d == 1) for d in dsts)


def test_large_copy_is_split_and_correct():
    src = np.random.default_rng(1).integers(0, 255, 12 << 20, np.uint8)
    dst = np.zeros_like(src)
    with HostDMA(2) as dma:
        request = dma.async_copy(dst, src)
        assert request._count > 1           # really split across threads
        request.wait()
    np.testing.assert_array_equal(dst, src)


def span(arr):
    return hostdma_ops._byte_span(arr)


@pytest.mark.parametrize("threads", [0, 1])
def test_overlapping_requests_run_one_after_another(threads):
    """With one worker or none, a waiting caller is no second worker."""
    with HostDMA(threads) as dma:
        dst = np.zeros(64)
        gate = Gate()
        first = dma.async_copy(None, None, gated(gate, (span(dst), span(dst))))
        if threads:
            assert gate.entered.wait(HOLD)      # the worker runs it
        else:
            runner = threading.Thread(target=first.wait)
            runner.start()                      # another caller runs it
            assert gate.entered.wait(HOLD)
        second = dma.async_copy(dst, np.ones(64))
        with pytest.raises(concurrent.futures.TimeoutError):
            second.wait(timeout=0.01)
        assert not dst.any()
        gate.open()
        second.wait(HOLD)
        assert dst.all()


def test_worker_waits_for_overlapping_request_a_caller_runs():
    log = []
    with HostDMA(1) as dma:
        gates = blocked(dma)
        dst = np.zeros(64)
        gate = Gate()

        def logged(what, g=None):
            def piece():
                log.append(what + " start")
                if g:
                    g(None, None, None)
                log.append(what + " end")
            return _pieces_operator([piece], (span(dst), span(dst)))
        first = dma.async_copy(None, None, logged("first", gate))
        dma.async_copy(None, None, logged("second"))
        runner = threading.Thread(target=first.wait)
        runner.start()                          # the caller runs first
        assert gate.entered.wait(HOLD)
        open_all(gates)                         # the worker is free now
        # ... but waits for first
        with pytest.raises(concurrent.futures.TimeoutError):
            dma.barrier(timeout=0.05)
        gate.open()
        runner.join(HOLD)
    assert log == ["first start", "first end", "second start", "second end"]


def test_wait_timeout_leaves_request_valid(dma):
    gates = blocked(dma)
    ahead = dma.async_copy(None, None, recorder([]), 6)
    late = dma.async_copy(None, None, recorder([]), 7)
    with pytest.raises(concurrent.futures.TimeoutError):
        late.wait(timeout=0.01)     # custom operators never pass each other
    assert not late.done()
    open_all(gates)
    assert late.wait(HOLD) == 7
    assert ahead.wait(HOLD) == 6


def test_waiter_runs_request_at_head_itself(dma):
    gates = blocked(dma)                    # no worker is free
    dst = np.zeros(8)
    request = dma.async_copy(dst, np.ones(8))
    assert request.wait(HOLD) is dst        # so the caller ran it
    open_all(gates)


# ---------------------------------------------------------------- FIFO


def test_requests_start_in_submission_order():
    log = []
    with HostDMA(1) as dma:
        gates = blocked(dma)
        for i in range(50):
            dma.async_copy(None, None, recorder(log), i)
        open_all(gates)
        dma.barrier()
    assert log == list(range(50))


def test_waiter_does_not_pass_earlier_request_on_same_memory(dma):
    gates = blocked(dma)
    dst = np.zeros(16)
    first = dma.async_copy(dst, np.full(16, 1.0))
    second = dma.async_copy(dst, np.full(16, 2.0))
    with pytest.raises(concurrent.futures.TimeoutError):
        second.wait(timeout=0.01)
    assert not first.done() and np.all(dst == 0)
    open_all(gates)
    second.wait(HOLD)
    first.wait(HOLD)
    if dma.num_threads == 1:    # serial; with two workers both may run
        assert np.all(dst == 2)             # first wrote, then second


def test_waiter_runs_own_disjoint_request_early(dma):
    gates = blocked(dma)
    a, b = np.zeros(16), np.zeros(16)
    earlier = dma.async_copy(a, np.ones(16))
    mine = dma.async_copy(b, np.ones(16))
    assert mine.wait(HOLD) is b             # the caller ran it
    assert not earlier.done()
    open_all(gates)
    earlier.wait(HOLD)
    assert np.all(a == 1) and np.all(b == 1)


# ---------------------------------------------------------------- cancel


def test_cancel_queued_request(dma):
    gates = blocked(dma)
    dst = np.zeros(4)
    request = dma.async_copy(dst, np.ones(4))
    assert request.cancel()
    assert request.cancel()                 # again: still cancelled
    assert request.cancelled() and request.done()
    with pytest.raises(concurrent.futures.CancelledError):
        request.wait()
    open_all(gates)
    dma.barrier()                           # a cancel is not a failure
    assert np.all(dst == 0)


def test_cancel_fails_once_started_or_done(dma):
    gate = Gate()
    running = dma.async_copy(None, None, gate, 1)
    assert gate.entered.wait(HOLD)
    assert not running.cancel()
    gate.open()
    assert running.wait(HOLD) == 1
    assert not running.cancel()
    assert not running.cancelled()


def test_cancel_wakes_futures_wait(dma):
    gates = blocked(dma)
    request = dma.async_copy(None, None, recorder([]), 1)
    request.cancel()
    done, _ = concurrent.futures.wait([request], timeout=HOLD)
    assert request in done
    open_all(gates)


def test_split_request_cannot_be_cancelled_once_a_piece_started():
    gate = Gate()
    ran = []
    op = _pieces_operator([lambda: gate(None, None, None),
                           lambda: ran.append(1), lambda: ran.append(2)])
    with HostDMA(1) as dma:
        request = dma.async_copy("dst", None, op)
        assert gate.entered.wait(HOLD)
        assert not request.cancel()
        gate.open()
        assert request.wait(HOLD) == "dst"
    assert sorted(ran) == [1, 2]


@pytest.mark.parametrize("threads", [0, 1])
def test_failed_piece_fails_request_and_skips_the_rest(threads):
    ran = []

    def bad():
        raise OSError("piece 1")
    op = _pieces_operator([lambda: ran.append(0), bad,
                           lambda: ran.append(2)])
    with HostDMA(threads) as dma:
        request = dma.async_copy(None, None, op)
        if threads:     # only the worker runs pieces, one after the other
            concurrent.futures.wait([request], timeout=HOLD)
        with pytest.raises(OSError, match="piece 1"):
            request.wait(HOLD)
        dma.barrier()                       # wait raised it already
    assert ran == [0]


# ---------------------------------------------------------------- barrier


def test_barrier_waits_for_everything(dma):
    src = np.arange(1000.0)
    dsts = [np.zeros(1000) for _ in range(30)]
    requests = [dma.async_copy(d, src) for d in dsts]
    dma.barrier()
    assert all(r.done() for r in requests)
    assert all(np.array_equal(d, src) for d in dsts)


def test_barrier_reports_first_failure_and_keeps_requests(dma):
    gates = blocked(dma)
    first, second = KeyError("first"), IndexError("second")
    ok = dma.async_copy(None, None, recorder([]), "fine")
    bad1 = dma.async_copy(None, None, fail, first)
    bad2 = dma.async_copy(None, None, fail, second)
    open_all(gates)
    with pytest.raises(KeyError) as info:
        dma.barrier()
    assert info.value is first
    dma.barrier()                           # reported once
    assert ok.wait() == "fine"              # every request stays waitable
    with pytest.raises(KeyError):
        bad1.wait()
    with pytest.raises(IndexError):
        bad2.wait()


def test_barrier_reports_failure_that_ended_before_it(dma):
    request = dma.async_copy(None, None, fail, RuntimeError("early"))
    concurrent.futures.wait([request], timeout=HOLD)   # does not report
    with pytest.raises(RuntimeError, match="early"):
        dma.barrier()


def test_barrier_skips_failures_already_raised_by_wait(dma):
    request = dma.async_copy(None, None, fail, RuntimeError("seen"))
    with pytest.raises(RuntimeError):
        request.wait(HOLD)
    dma.barrier()


def test_barrier_timeout(dma):
    gates = blocked(dma)
    with pytest.raises(concurrent.futures.TimeoutError):
        dma.barrier(timeout=0.01)
    open_all(gates)
    dma.barrier(HOLD)


def test_barrier_from_operator_is_refused(dma):
    request = dma.async_copy(None, None, lambda d, s, a: dma.barrier())
    with pytest.raises(RuntimeError, match="wait for itself"):
        request.wait(HOLD)


def test_barrier_with_concurrent_submitters():
    src = np.arange(256, dtype=np.uint8)
    requests, errors = [], []

    def submitter(dma, dst):
        try:
            for _ in range(500):
                requests.append(dma.async_copy(dst, src))
        except BaseException as exc:   # pragma: no cover - reported below
            errors.append(exc)

    with HostDMA(2) as dma:
        threads = [threading.Thread(target=submitter,
                                    args=(dma, np.zeros(256, np.uint8)))
                   for _ in range(3)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            dma.barrier(HOLD)
        for t in threads:
            t.join(HOLD)
        dma.barrier(HOLD)
        assert len(requests) == 1500
        assert all(r.done() for r in requests)
    assert not errors


# ---------------------------------------------------------------- threads


def test_many_threads_submitting_at_once():
    rng = np.random.default_rng(7)
    sources = [rng.integers(0, 1 << 30, n, np.int64)
               for n in rng.integers(1, 5000, 64)]
    results = {}
    start = threading.Barrier(8)

    def client(k, dma):
        start.wait()
        mine = []
        for i in range(k, len(sources), 8):
            dst = np.empty_like(sources[i])
            mine.append((i, dst, dma.async_copy(dst, sources[i])))
        for i, dst, request in mine:
            assert request.wait(HOLD) is dst
            results[i] = dst

    with HostDMA(2) as dma:
        threads = [threading.Thread(target=client, args=(k, dma))
                   for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(HOLD * 3)
    assert sorted(results) == list(range(len(sources)))
    for i, dst in results.items():
        np.testing.assert_array_equal(dst, sources[i])


def test_worker_failure_does_not_stop_the_engine(dma):
    for _ in range(5):
        with pytest.raises(ZeroDivisionError):
            dma.copy(None, None, lambda d, s, a: 1 / 0)
    assert dma.copy(None, None, recorder([]), 3) == 3


# ---------------------------------------------------------------- 0 threads


def test_zero_threads_runs_in_caller_in_order():
    log = []
    dma = HostDMA(0)
    requests = [dma.async_copy(None, None, recorder(log), i)
                for i in range(4)]
    assert not any(r.done() for r in requests)
    assert requests[1].wait() == 1
    assert log == [0, 1]                    # up to the waited request
    assert not requests[2].done()
    dma.barrier()
    assert log == [0, 1, 2, 3]
    dma.close()


def test_zero_threads_copies_and_close_drains():
    dma = HostDMA(0)
    dst = np.zeros(5 << 20, np.uint8)
    request = dma.async_copy(dst, np.ones_like(dst))
    assert not request.done() and dst[0] == 0
    dma.close()
    assert request.done() and np.all(dst == 1)


def test_zero_threads_wait_timeout_zero_polls():
    dma = HostDMA(0)
    request = dma.async_copy(None, None, recorder([]), 1)
    with pytest.raises(concurrent.futures.TimeoutError):
        request.wait(timeout=0)
    assert request.wait() == 1
    dma.close()


def test_zero_threads_many_callers():
    """Callers run each other's requests, in order; each gets its own."""
    errors = []

    def client(dma, k):
        try:
            src = np.full(3000, k, np.int32)
            shared = np.zeros(3000, np.int32)       # this client's alone
            for i in range(100):
                dst = np.zeros(3000, np.int32)
                first = dma.async_copy(shared, src + i)
                second = dma.async_copy(dst, shared)    # reads first's
                assert second.wait(HOLD) is dst
                assert first.done() and np.all(dst == k + i)
        except BaseException as exc:   # pragma: no cover - reported below
            errors.append(exc)

    with HostDMA(0) as dma:
        threads = [threading.Thread(target=client, args=(dma, k))
                   for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(HOLD * 3)
    assert not errors


# ---------------------------------------------------------------- close


def test_close_is_idempotent_and_refuses_new_work(dma):
    dma.close()
    dma.close()
    assert dma.closed
    with pytest.raises(RuntimeError, match="closed"):
        dma.async_copy(np.zeros(2), np.zeros(2))
    with pytest.raises(RuntimeError, match="closed"):
        dma.copy(np.zeros(2), np.zeros(3))  # closed is said first


def test_close_drains_pending():
    dma = HostDMA(1)
    gates = blocked(dma)
    log = []
    requests = [dma.async_copy(None, None, recorder(log), i)
                for i in range(5)]
    threading.Timer(0.01, open_all, [gates]).start()
    dma.close()
    assert log == list(range(5))
    assert [r.wait() for r in requests] == list(range(5))
    assert not any(t.is_alive() for t in dma._engine._threads)


def test_close_cancel_pending():
    dma = HostDMA(1)
    gate = Gate()
    running = dma.async_copy(None, None, gate, "ran")
    assert gate.entered.wait(HOLD)
    queued = [dma.async_copy(None, None, recorder([]), i) for i in range(3)]
    threading.Timer(0.01, gate.open).start()
    dma.close(cancel_pending=True)
    assert running.wait() == "ran"          # a started request finishes
    assert all(r.cancelled() for r in queued)


def test_close_from_operator_is_refused(dma):
    request = dma.async_copy(None, None, lambda d, s, a: dma.close())
    with pytest.raises(RuntimeError, match="wait for itself"):
        request.wait(HOLD)
    assert not dma.closed


def test_context_manager_raises_unseen_failure_and_closes():
    with pytest.raises(LookupError, match="unseen"):
        with HostDMA(2) as dma:
            dma.async_copy(None, None, fail, LookupError("unseen"))
    assert dma.closed


def test_forgotten_engine_stops_its_workers():
    dma = HostDMA(2)
    threads = list(dma._engine._threads)
    assert dma.copy(np.zeros(3), np.ones(3)).sum() == 3
    del dma
    gc.collect()
    for thread in threads:
        thread.join(HOLD)
        assert not thread.is_alive()


EXIT_SCRIPT = """
import sys, time
import numpy as np
from pydmak.hostdma import HostDMA

out = np.memmap(sys.argv[1], np.uint8, "w+", shape=(1 << 20,))
dma = HostDMA(1)     # one worker: the second copy starts after the first

def slow(dst, src, arg):
    time.sleep(0.2)             # still running when the main thread ends
    dst[...] = src
    dst.flush()

dma.async_copy(out, np.full(out.shape, 7, np.uint8), slow)
dma.async_copy(out[:10], np.full(10, 9, np.uint8))     # queued behind it
"""


def test_interpreter_exit_finishes_pending_copies(tmp_path):
    path = tmp_path / "out.bin"
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    done = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, str(path)],
                          env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    data = np.fromfile(path, np.uint8)
    assert np.all(data[:10] == 9) and np.all(data[10:] == 7)


def test_forked_child_refuses_the_parents_engine():
    with HostDMA(1) as dma:
        gate = Gate()
        request = dma.async_copy(None, None, gate, 1)
        assert gate.entered.wait(HOLD)          # running: not done at fork
        pid = os.fork()
        if pid == 0:                            # the child: never returns
            code = 0
            for call in (lambda: dma.async_copy(None, None, fail, None),
                         dma.barrier, request.wait):
                try:
                    call()
                    code = 1
                except RuntimeError as exc:
                    if "fork" not in str(exc):
                        code = 2
                except BaseException:
                    code = 3
            dma.close()                         # a no-op, does not hang
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        gate.open()
        assert request.wait(HOLD) == 1          # the parent's is fine


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError),
                                        (True, TypeError), ("2", TypeError)])
def test_num_threads_checked(bad, error):
    with pytest.raises(error, match="num_threads"):
        HostDMA(bad)


def test_default_threads_is_cpu_count():
    with HostDMA() as dma:
        assert dma.num_threads >= 1
        assert repr(dma).startswith("<HostDMA open")


def test_bad_operator_and_timeout():
    with HostDMA(1) as dma:
        with pytest.raises(TypeError, match="op must be"):
            dma.async_copy(None, None, op=42)
        request = dma.async_copy(np.zeros(2), np.ones(2), memcpy)
        with pytest.raises(ValueError, match="timeout"):
            request.wait(timeout=-1)
        request.wait()
