"""Copy operators of :class:`pydmak.hostdma.HostDMA`.

An operator checks its arguments and turns one copy into a :class:`Plan`:
the pieces that workers may run at the same time, the value the request
returns and the memory it touches. Everything is checked here, before a
request is queued, so bad input raises in the caller and nothing is ever
half-copied.

The copy kernels release the GIL (``ctypes.memmove``, ``numpy.copyto``),
except for small copies, where a GIL hand-off would cost more than the copy.
Each operator is also a plain function ``op(dst, src, arg)`` that copies in
the calling thread.
"""

from __future__ import annotations

import ctypes
import numbers
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from ._memory import Span
from ._memory import address as _address
from ._memory import byte_span as _byte_span

__all__ = ["CopyOperator", "Plan", "copy_1d", "copy_generic", "memcpy",
           "transform"]

#: Copies up to this many bytes run as one piece with the GIL held, by
#: whichever thread runs them: a GIL hand-off would cost more than the copy.
SMALL_COPY = 64 << 10
#: Copies up to this many bytes are not split: waking a sleeping worker
#: takes tens of microseconds, as long as copying this much. A waiting
#: caller that runs such a copy itself keeps the GIL (well under a
#: millisecond, far below the interpreter's 5 ms switch interval, and no
#: GIL hand-off); a worker releases it.
SPLIT_MIN = 4 << 20
#: Larger copies are split in one piece per thread that may run them, of at
#: least SPLIT_MIN / 2 bytes each, cut at multiples of this many bytes.
PIECE_ALIGN = 4096

Piece = Tuple[Callable[..., Any], tuple]

_memmove_nogil = ctypes.memmove
_memmove_gil = ctypes.PyDLL(None).memmove   # PyDLL: the call keeps the GIL
_memmove_gil.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_memmove_gil.restype = ctypes.c_void_p


_CTYPES_POINTERS = (ctypes._Pointer, ctypes.c_void_p, ctypes.c_char_p,
                    ctypes.c_wchar_p)
_CTYPES_DATA = (ctypes.Array, ctypes.Structure, ctypes.Union,
                ctypes._SimpleCData)


def _noop() -> None:
    pass


class Plan:
    """How one request copies: pieces, result and memory footprint.

    ``pieces`` are ``(function, args)`` pairs that may run in any order and
    at the same time; ``inline``, if not ``None``, is the one piece to run
    instead when a waiting caller runs the whole request. ``spans`` are the
    byte ranges written and read, ``((dst_low, dst_high), (src_low,
    src_high))``, or ``None`` when unknown (custom operators): the engine
    only reorders or overlaps requests it can prove disjoint. ``keep`` holds
    the buffers alive while the copy runs.
    """

    __slots__ = ("pieces", "inline", "result", "keep", "custom", "_spans")

    def __init__(self, pieces: List[Piece], result: Any, spans: Any,
                 keep: Any = None, custom: bool = False) -> None:
        self.pieces = pieces
        self.inline: Optional[Piece] = None
        self.result = result
        self.keep = keep
        self.custom = custom
        self._spans = spans

    @property
    def spans(self) -> Optional[Tuple[Span, Span]]:
        """``((dst_low, dst_high), (src_low, src_high))`` or ``None``."""
        spans = self._spans
        if isinstance(spans, _LazySpans):   # computed when first needed
            spans = self._spans = (_byte_span(spans.dst),
                                   _byte_span(spans.src))
        return spans


class _LazySpans:
    __slots__ = ("dst", "src")

    def __init__(self, dst: np.ndarray, src: np.ndarray) -> None:
        self.dst = dst
        self.src = src


def custom_plan(op: Callable[[Any, Any, Any], Any], dst: Any, src: Any,
                arg: Any) -> Plan:
    """A user's ``op(dst, src, arg)``: one piece, returning the result."""
    if not callable(op):
        raise TypeError(f"op must be a copy operator or a callable "
                        f"op(dst, src, arg), not {type(op).__name__}")
    return Plan([(op, (dst, src, arg))], None, None, custom=True)


class CopyOperator:
    """A copy operator whose copies the engine may split and reorder.

    Call it as ``op(dst, src, arg)`` to copy in the calling thread, or pass
    it as ``op=`` to :meth:`HostDMA.async_copy` to copy on the engine. It
    wraps a planner ``planner(dst, src, arg, parallel) -> Plan`` that checks
    the arguments (raising ``TypeError`` or ``ValueError``) and cuts the copy
    in pieces for up to ``parallel`` threads; ``copy_1d``, ``copy_generic``,
    ``memcpy`` and ``transform`` are the built-in ones.
    """

    def __init__(self, planner: Callable[..., Plan]) -> None:
        self._planner = planner
        self.__name__ = planner.__name__
        self.__qualname__ = planner.__qualname__
        self.__doc__ = planner.__doc__
        self.__module__ = planner.__module__

    def plan(self, dst: Any, src: Any, arg: Any = None,
             parallel: int = 1) -> Plan:
        """Checks the arguments; splits the copy for ``parallel`` threads."""
        return self._planner(dst, src, arg, parallel)

    def __call__(self, dst: Any, src: Any, arg: Any = None) -> Any:
        plan = self._planner(dst, src, arg, 1)
        for function, args in plan.pieces:
            function(*args)
        return plan.result

    def __repr__(self) -> str:
        return f"<HostDMA operator {self.__name__}>"


# ---------------------------------------------------------------- checks


def overlap(a: Span, b: Span) -> bool:
    """True if byte ranges ``a`` and ``b`` share a byte."""
    return a[0] < b[1] and b[0] < a[1] and a[0] < a[1] and b[0] < b[1]


def _no_arg(op: str, arg: Any) -> None:
    if arg is not None:
        raise TypeError(f"{op} takes no op_arg (got {arg!r})")


def _array(obj: Any, op: str, name: str) -> np.ndarray:
    """``obj`` as a plain ndarray over the same memory.

    Subclasses (``np.matrix``, ``pydmak.allocate`` buffers) are viewed as
    ndarray: their own indexing and reshaping rules do not apply to the
    pieces, and slicing them costs no ``__array_finalize__``.
    """
    if not isinstance(obj, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy array, "
                        f"not {type(obj).__name__}")
    if obj.dtype.hasobject:
        raise TypeError(f"{op}: {name} holds Python objects ({obj.dtype}); "
                        f"HostDMA copies bytes, use numpy.copyto")
    return obj if type(obj) is np.ndarray else obj.view(np.ndarray)


def _dst_array(obj: Any, op: str) -> np.ndarray:
    arr = _array(obj, op, "dst")
    if not arr.flags.writeable:
        raise ValueError(f"{op}: dst is read-only")
    return arr


def _same_kind(op: str, dst: np.ndarray, src: np.ndarray,
               what: str = "src") -> None:
    if dst.dtype != src.dtype:
        raise TypeError(f"{op}: dtype mismatch, dst {dst.dtype} and "
                        f"{what} {src.dtype} (HostDMA does not convert)")
    if dst.shape != src.shape:
        raise ValueError(f"{op}: shape mismatch, dst {dst.shape} and "
                         f"{what} {src.shape}")


# ---------------------------------------------------------------- planning


def _piece_count(nbytes: int, parallel: int) -> int:
    if parallel <= 1 or nbytes <= SPLIT_MIN:
        return 1
    return max(1, min(parallel, nbytes // (SPLIT_MIN // 2)))


def _bounds(nbytes: int, count: int) -> List[int]:
    """Offsets cutting ``nbytes`` in ``count`` aligned pieces, and the end."""
    step = -(-nbytes // count)
    step = -(-step // PIECE_ALIGN) * PIECE_ALIGN
    return list(range(0, nbytes, step)) + [nbytes]


def _flat_plan(dst: int, src: int, nbytes: int, parallel: int, result: Any,
               keep: Any) -> Plan:
    """``nbytes`` from address ``src`` to address ``dst``, memmove-safe."""
    spans = ((dst, dst + nbytes), (src, src + nbytes))
    if nbytes == 0:
        return Plan([(_noop, ())], result, spans, keep)
    if nbytes <= SMALL_COPY:
        return Plan([(_memmove_gil, (dst, src, nbytes))], result, spans,
                    keep)
    count = 1 if overlap(*spans) else _piece_count(nbytes, parallel)
    if count == 1:
        plan = Plan([(_memmove_nogil, (dst, src, nbytes))], result, spans,
                    keep)
        if nbytes <= SPLIT_MIN:
            plan.inline = (_memmove_gil, (dst, src, nbytes))
        return plan
    bounds = _bounds(nbytes, count)
    pieces = [(_memmove_nogil, (dst + a, src + a, b - a))
              for a, b in zip(bounds, bounds[1:])]
    return Plan(pieces, result, spans, keep)


def _copy_small(dst: np.ndarray, src: np.ndarray) -> None:
    """Copies C-contiguous ``src`` to ``dst`` (memmove), keeping the GIL."""
    try:
        memoryview(dst).cast("B")[:] = memoryview(src).cast("B")
    except (TypeError, ValueError, NotImplementedError):
        # dtypes that the buffer protocol does not describe (datetime64)
        memoryview(dst.reshape(-1).view(np.uint8))[:] = \
            memoryview(src.reshape(-1).view(np.uint8))


def _dense_plan(dst: np.ndarray, src: np.ndarray, parallel: int,
                result: Any) -> Plan:
    """Copies between two C-contiguous arrays of equal size.

    No addresses are needed: small copies go through memoryviews, larger
    ones through numpy.copyto on flat byte views (glibc's memmove, without
    the GIL).
    """
    keep = (dst, src)
    nbytes = dst.nbytes
    if nbytes <= SMALL_COPY:
        return Plan([(_copy_small, (dst, src))], result,
                    _LazySpans(dst, src), keep)
    count = _piece_count(nbytes, parallel)
    spans: Any = _LazySpans(dst, src)
    if count > 1:
        spans = (_byte_span(dst), _byte_span(src))
        if overlap(*spans):
            count = 1
    if count == 1:
        plan = Plan([(np.copyto, (dst, src))], result, spans, keep)
        if nbytes <= SPLIT_MIN:
            plan.inline = (_copy_small, (dst, src))
        return plan
    dflat = dst.reshape(-1).view(np.uint8)
    sflat = src.reshape(-1).view(np.uint8)
    bounds = _bounds(nbytes, count)
    pieces = [(np.copyto, (dflat[a:b], sflat[a:b]))
              for a, b in zip(bounds, bounds[1:])]
    return Plan(pieces, result, spans, keep)


def _normalized(dst: np.ndarray, src: np.ndarray
                ) -> Tuple[np.ndarray, np.ndarray]:
    """Views of both arrays with dst's axes in memory order.

    Drops length-1 axes, flips axes that dst walks backwards and sorts the
    axes by decreasing dst stride; the same is done to src, so element i of
    one still pairs with element i of the other.
    """
    if 1 in dst.shape:
        index = tuple(0 if n == 1 else slice(None) for n in dst.shape)
        dst, src = dst[index], src[index]
    if any(s < 0 for s in dst.strides):
        index = tuple(slice(None, None, -1) if s < 0 else slice(None)
                      for s in dst.strides)
        dst, src = dst[index], src[index]
    order = sorted(range(dst.ndim), key=lambda ax: -dst.strides[ax])
    if order != list(range(dst.ndim)):
        dst, src = dst.transpose(order), src.transpose(order)
    return dst, src


def _check_distinct(op: str, dst: np.ndarray, original: np.ndarray) -> None:
    """Raises unless every element of normalized ``dst`` has its own bytes."""
    extent = dst.itemsize
    for n, stride in zip(reversed(dst.shape), reversed(dst.strides)):
        if stride < extent:
            raise ValueError(
                f"{op}: dst elements may share memory (shape "
                f"{original.shape}, strides {original.strides}); the result "
                f"of writing it would depend on the order of the writes")
        extent = stride * (n - 1) + extent


def _array_plan(op: str, dst: np.ndarray, src: np.ndarray, parallel: int,
                result: Any) -> Plan:
    """dst[...] = src for arrays of equal shape and dtype, any layouts."""
    keep = (dst, src)
    if dst.size == 0:
        return Plan([(_noop, ())], result, ((0, 0), (0, 0)), keep)
    if dst.flags.c_contiguous and src.flags.c_contiguous:
        return _dense_plan(dst, src, parallel, result)
    d, s = _normalized(dst, src)
    if not d.flags.c_contiguous:
        _check_distinct(op, d, dst)
    elif s.flags.c_contiguous:
        return _dense_plan(d, s, parallel, result)
    spans = (_byte_span(d), _byte_span(s))
    count = 1 if overlap(*spans) else _piece_count(d.nbytes, parallel)
    count = min(count, d.shape[0])
    if count == 1:   # numpy.copyto copies overlapping arrays safely
        return Plan([(np.copyto, (d, s))], result, spans, keep)
    rows = d.shape[0]
    bounds = [rows * k // count for k in range(count + 1)]
    pieces = [(np.copyto, (d[a:b], s[a:b]))
              for a, b in zip(bounds, bounds[1:])]
    return Plan(pieces, result, spans, keep)


# ---------------------------------------------------------------- raw memory


def _pointer(obj: Any, name: str, writable: bool
             ) -> Tuple[int, Optional[int], Any]:
    """(address, size or None, object to keep alive) of memcpy's operands."""
    if isinstance(obj, bool):
        raise TypeError(f"memcpy: {name} must be an address, not a bool")
    if isinstance(obj, numbers.Integral):
        address = int(obj)
        if not 0 <= address < 1 << 64:
            raise ValueError(f"memcpy: {name} address {address:#x} is not "
                             f"a valid address")
        return address, None, None
    if isinstance(obj, np.ndarray):
        if not (obj.flags.c_contiguous or obj.flags.f_contiguous):
            raise ValueError(f"memcpy: {name} array is not contiguous; "
                             f"use copy_generic for strided arrays")
        if writable and not obj.flags.writeable:
            raise ValueError(f"memcpy: {name} is read-only")
        return _address(obj), obj.nbytes, obj
    if isinstance(obj, _CTYPES_POINTERS):
        return ctypes.cast(obj, ctypes.c_void_p).value or 0, None, obj
    if isinstance(obj, _CTYPES_DATA):
        return ctypes.addressof(obj), ctypes.sizeof(obj), obj
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError(
            f"memcpy: {name} must be an address (int), a ctypes pointer or "
            f"object, or a buffer such as a numpy array, bytearray or "
            f"memoryview; not {type(obj).__name__}") from None
    if not view.c_contiguous:
        raise ValueError(f"memcpy: {name} buffer is not C-contiguous")
    if writable and view.readonly:
        raise ValueError(f"memcpy: {name} buffer is read-only")
    # The view pins the buffer (a bytearray cannot be resized under us).
    flat = np.frombuffer(view.cast("B"), dtype=np.uint8)
    return _address(flat), view.nbytes, (view, flat)


def _nbytes(arg: Any) -> int:
    if isinstance(arg, bool) or not isinstance(arg, numbers.Integral):
        raise TypeError(f"memcpy: op_arg is the number of bytes, an int; "
                        f"not {type(arg).__name__}")
    nbytes = int(arg)
    if nbytes < 0:
        raise ValueError(f"memcpy: negative size {nbytes}")
    return nbytes


# ---------------------------------------------------------------- operators


@CopyOperator
def memcpy(dst: Any, src: Any, arg: Optional[int] = None,
           parallel: int = 1) -> Plan:
    """Copies ``op_arg`` bytes from ``src`` to ``dst``, raw memory.

    ``dst`` and ``src`` are each an address (int), a ctypes pointer
    (``c_void_p``, ``POINTER(T)``), a ctypes object (array, structure) or a
    contiguous buffer (numpy array, ``pydmak.allocate`` buffer, bytearray,
    memoryview); ``op_arg`` is the number of bytes. It may be left out when
    one operand's size is known: the source's, else the destination's.
    Known sizes are checked; raw addresses are trusted. Overlap is safe (as
    ``memmove``). Returns ``dst``.
    """
    daddr, dsize, dkeep = _pointer(dst, "dst", writable=True)
    saddr, ssize, skeep = _pointer(src, "src", writable=False)
    if arg is not None:
        nbytes = _nbytes(arg)
    elif ssize is not None:
        nbytes = ssize
    elif dsize is not None:
        nbytes = dsize
    else:
        raise TypeError("memcpy: op_arg=nbytes is needed when neither dst "
                        "nor src has a known size")
    for size, name in ((dsize, "dst"), (ssize, "src")):
        if size is not None and nbytes > size:
            raise ValueError(f"memcpy: {nbytes} bytes do not fit the "
                             f"{size}-byte {name}")
    if nbytes and not (daddr and saddr):
        raise ValueError("memcpy: null address")
    return _flat_plan(daddr, saddr, nbytes, parallel, dst, (dkeep, skeep))


@CopyOperator
def copy_1d(dst: np.ndarray, src: np.ndarray, arg: None = None,
            parallel: int = 1) -> Plan:
    """Copies a dense 1-D array into another of the same length and dtype.

    Both arrays must be one-dimensional with unit stride (``stride ==
    itemsize``); :data:`copy_generic` takes every other layout. Returns
    ``dst``.
    """
    _no_arg("copy_1d", arg)
    d = _dst_array(dst, "copy_1d")
    s = _array(src, "copy_1d", "src")
    if d.ndim != 1 or s.ndim != 1:
        raise ValueError(f"copy_1d: needs 1-D arrays, got dst.ndim={d.ndim} "
                         f"and src.ndim={s.ndim} (use copy_generic)")
    _same_kind("copy_1d", d, s)
    for arr, name in ((d, "dst"), (s, "src")):
        if len(arr) > 1 and arr.strides[0] != arr.itemsize:
            raise ValueError(f"copy_1d: {name} is not dense (stride "
                             f"{arr.strides[0]}, itemsize {arr.itemsize}); "
                             f"use copy_generic")
    if d.size == 0:
        return Plan([(_noop, ())], dst, ((0, 0), (0, 0)), (d, s))
    return _dense_plan(d, s, parallel, dst)


@CopyOperator
def copy_generic(dst: np.ndarray, src: np.ndarray, arg: None = None,
                 parallel: int = 1) -> Plan:
    """Copies between any two layouts of equal shape and dtype.

    Strided, negatively strided, C or Fortran ordered, views, reshapes:
    ``dst[...] = src`` without conversion. Dense same-order pairs are copied
    as raw memory. Overlapping arrays are copied as if through a temporary.
    This is the default operator. Returns ``dst``.
    """
    _no_arg("copy_generic", arg)
    d = _dst_array(dst, "copy_generic")
    s = _array(src, "copy_generic", "src")
    _same_kind("copy_generic", d, s)
    return _array_plan("copy_generic", d, s, parallel, dst)


def _axes(arg: Optional[Sequence[int]], ndim: int) -> Tuple[int, ...]:
    if arg is None:
        return tuple(range(ndim))[::-1]
    try:
        axes = tuple(int(a) if not isinstance(a, bool) and
                     isinstance(a, numbers.Integral) else None for a in arg)
    except TypeError:
        raise TypeError(f"transform: op_arg must be a sequence of axes, not "
                        f"{type(arg).__name__}") from None
    if None in axes:
        raise TypeError(f"transform: axes must be ints, got {arg!r}")
    normal = tuple(a + ndim if a < 0 else a for a in axes)
    if sorted(normal) != list(range(ndim)):
        raise ValueError(f"transform: axes {axes} are not a permutation of "
                         f"the source's {ndim} axes")
    return normal


@CopyOperator
def transform(dst: np.ndarray, src: np.ndarray,
              arg: Optional[Sequence[int]] = None, parallel: int = 1) -> Plan:
    """Copies ``src`` with its axes permuted (AML's layout transform).

    ``dst[...] = src.transpose(axes)``, where ``op_arg`` gives the ``axes``
    as for ``numpy.transpose`` (default: reversed). Returns ``dst``.
    """
    d = _dst_array(dst, "transform")
    s = _array(src, "transform", "src")
    view = s.transpose(_axes(arg, s.ndim))
    _same_kind("transform", d, view, "transposed src")
    return _array_plan("transform", d, view, parallel, dst)


def plan_for(op: Any, dst: Any, src: Any, arg: Any, parallel: int) -> Plan:
    """The plan of ``op`` (``None`` is :data:`copy_generic`)."""
    if op is None:
        op = copy_generic
    if isinstance(op, CopyOperator):
        return op.plan(dst, src, arg, parallel)
    return custom_plan(op, dst, src, arg)
