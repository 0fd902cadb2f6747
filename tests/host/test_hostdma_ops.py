"""HostDMA operators: every layout copies right; bad input raises early.

Layouts are drawn by hypothesis: any permutation of axes over a C or
Fortran base, steps of 1, 2, -1 or -3 per axis, any dtype. Each copy is
checked byte for byte over the whole base array of the destination, so a
write outside the view is caught too. With ``split`` the thresholds are
lowered so that small arrays are cut into pieces as large ones are.
"""

import contextlib
import ctypes

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pydmak import hostdma_ops
from pydmak.hostdma import (HostDMA, copy_1d, copy_generic, memcpy,
                            transform)

DTYPES = [np.uint8, np.int16, np.float32, np.float64, np.complex128, ">i4",
          np.bool_, "M8[s]", "V3", [("a", "u1"), ("b", "<f8")]]

ENGINES = {}


@pytest.fixture(scope="module", autouse=True)
def engines():
    ENGINES.update({0: HostDMA(0), 2: HostDMA(2), 3: HostDMA(3)})
    yield
    for engine in ENGINES.values():
        engine.close()
    ENGINES.clear()


@contextlib.contextmanager
def tiny_pieces(enabled=True):
    """Lowers the split thresholds so that small copies are split too."""
    names = ("SMALL_COPY", "SPLIT_MIN", "PIECE_ALIGN")
    saved = [getattr(hostdma_ops, n) for n in names]
    if enabled:
        for name, value in zip(names, (16, 64, 8)):
            setattr(hostdma_ops, name, value)
    try:
        yield
    finally:
        for name, value in zip(names, saved):
            setattr(hostdma_ops, name, value)


def run(how, dst, src, op=None, arg=None):
    if how == "direct":
        return (op or copy_generic)(dst, src, arg)
    return ENGINES[how].copy(dst, src, op, arg)


class Layout:
    """A view of a fresh base array: axes permuted, stepped, reversed."""

    def __init__(self, shape, perm, steps, order):
        self.shape, self.perm, self.steps, self.order = \
            shape, perm, steps, order
        self.base_shape = tuple(shape[p] * abs(s) for p, s in
                                zip(perm, steps))
        self.index = tuple(slice(None, None, s) for s in steps) + (...,)
        self.back = tuple(np.argsort(perm)) if perm else ()

    def view(self, raw, dtype):
        """The view, over the bytes ``raw`` of its base array."""
        base = np.ndarray(self.base_shape, dtype, buffer=raw,
                          order=self.order)
        return base[self.index].transpose(self.back)

    def make(self, dtype, seed=None, fill=0):
        """(raw bytes of the base, view); the bytes random or ``fill``."""
        nbytes = int(np.prod(self.base_shape)) * np.dtype(dtype).itemsize
        raw = np.full(nbytes, fill, np.uint8)
        if seed is not None:
            raw[...] = np.random.default_rng(seed).integers(0, 256, nbytes)
        return raw, self.view(raw, dtype)

    def __repr__(self):
        return (f"Layout(shape={self.shape}, perm={self.perm}, "
                f"steps={self.steps}, order={self.order!r})")


@st.composite
def layouts(draw, shape):
    perm = tuple(draw(st.permutations(range(len(shape)))))
    steps = tuple(draw(st.sampled_from([1, 1, 2, -1, -3]))
                  for _ in shape)
    return Layout(shape, perm, steps, draw(st.sampled_from("CF")))


shapes = st.lists(st.integers(0, 6), min_size=0, max_size=4).map(tuple)


# ---------------------------------------------------------------- layouts


@settings(max_examples=150, deadline=None)
@given(data=st.data(), shape=shapes,
       dtype=st.sampled_from(DTYPES),
       how=st.sampled_from(["direct", 0, 2, 3]), split=st.booleans())
def test_copy_generic_any_two_layouts(data, shape, dtype, how, split):
    src_layout = data.draw(layouts(shape), "src")
    dst_layout = data.draw(layouts(shape), "dst")
    _, src = src_layout.make(dtype, seed=1)
    dst_raw, dst = dst_layout.make(dtype, fill=0xAB)
    expected = dst_raw.copy()
    dst_layout.view(expected, dtype)[...] = src
    with tiny_pieces(split):
        assert run(how, dst, src) is dst
    np.testing.assert_array_equal(dst_raw, expected)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), shape=shapes.filter(lambda s: len(s) >= 1),
       how=st.sampled_from(["direct", 0, 2]), split=st.booleans())
def test_transform_permutes_axes(data, shape, how, split):
    axes = tuple(data.draw(st.permutations(range(len(shape))), "axes"))
    _, src = data.draw(layouts(shape), "src").make(np.int32, seed=2)
    moved = tuple(shape[a] for a in axes)
    _, dst = data.draw(layouts(moved), "dst").make(np.int32, fill=0x5A)
    with tiny_pieces(split):
        assert run(how, dst, src, transform, axes) is dst
    np.testing.assert_array_equal(dst, src.transpose(axes))


def test_transform_default_reverses_axes():
    src = np.arange(24).reshape(2, 3, 4)
    dst = np.empty((4, 3, 2), src.dtype)
    with HostDMA(2) as dma:
        dma.copy(dst, src, transform)
    np.testing.assert_array_equal(dst, src.T)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 300), a=st.integers(0, 100), b=st.integers(0, 100),
       step=st.sampled_from([1, -1, 2]), how=st.sampled_from([0, 2, 3]),
       split=st.booleans())
def test_overlapping_arrays_copy_as_through_a_temporary(n, a, b, step, how,
                                                        split):
    base = np.arange(1000, dtype=np.int64)
    dst = base[a:a + n * abs(step):abs(step)]
    src = base[b:b + n * abs(step):abs(step)][::1 if step > 0 else -1]
    expected = base.copy()
    expected[a:a + n * abs(step):abs(step)] = src.copy()
    with tiny_pieces(split):
        run(how, dst, src)
    np.testing.assert_array_equal(base, expected)


@pytest.mark.parametrize("how", ["direct", 0, 2])
def test_dense_1d(how):
    src = np.arange(100_000, dtype=np.float64)
    dst = np.zeros_like(src)
    assert run(how, dst, src, copy_1d) is dst
    np.testing.assert_array_equal(dst, src)


def test_reshaped_and_fortran_views():
    src = np.arange(4 * 6 * 5, dtype=np.float32).reshape(4, 6, 5)
    dst = np.zeros((5, 6, 4), np.float32, order="F").T    # C-like view
    with HostDMA(2) as dma:
        dma.copy(dst, src)
        np.testing.assert_array_equal(dst, src)
        flat = np.zeros(src.size, np.float32)
        dma.copy(flat.reshape(src.shape), src)
        np.testing.assert_array_equal(flat, src.ravel())


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # matrix
@pytest.mark.parametrize("split", [False, True])
def test_array_subclasses_copy_by_their_memory(split):
    src = np.matrix(np.arange(40.0).reshape(4, 10))
    dst = np.matrix(np.zeros((4, 10)))
    strided = np.matrix(np.zeros((10, 4))).T
    with tiny_pieces(split):
        request = ENGINES[2].async_copy(dst, src)
        assert request.wait() is dst                # the caller's object
        assert request._count == (2 if split else 1)
        ENGINES[2].copy(strided, src)
    np.testing.assert_array_equal(np.asarray(dst), np.asarray(src))
    np.testing.assert_array_equal(np.asarray(strided), np.asarray(src))


# ---------------------------------------------------------------- memcpy


def test_memcpy_accepts_every_kind_of_address():
    src = np.arange(64, dtype=np.uint8)
    with HostDMA(2) as dma:
        dst = np.zeros(64, np.uint8)
        dma.copy(dst.ctypes.data, src.ctypes.data, memcpy, 64)
        np.testing.assert_array_equal(dst, src)

        cbuf = (ctypes.c_uint8 * 64)()
        dma.copy(cbuf, src, memcpy)                       # ctypes object
        assert bytes(cbuf) == src.tobytes()

        dst = np.zeros(64, np.uint8)
        pointer = ctypes.cast(ctypes.addressof(cbuf),
                              ctypes.POINTER(ctypes.c_uint8))
        dma.copy(dst, pointer, memcpy, 32)                # ctypes pointer
        assert dst[:32].tobytes() == src[:32].tobytes() and not dst[32:].any()

        dst = bytearray(64)
        dma.copy(dst, ctypes.c_void_p(src.ctypes.data), memcpy, 64)
        assert bytes(dst) == src.tobytes()

        dst = bytearray(100)
        dma.copy(memoryview(dst)[10:], bytes(range(50)), memcpy)
        assert dst[10:60] == bytes(range(50)) and not any(dst[:10])


def test_memcpy_uses_the_user_address_of_dma_buffers():
    class FakeDMABuffer(np.ndarray):
        """As pydmak.allocate's buffers: an ndarray with a bus address."""
        physical_address = 0x1000

    src = np.arange(256, dtype=np.uint8)
    dst = np.zeros(256, np.uint8).view(FakeDMABuffer)
    with HostDMA(1) as dma:
        dma.copy(dst, src, memcpy)
        dma.copy(dst[128:], src[:128].view(FakeDMABuffer), memcpy)
    np.testing.assert_array_equal(dst[:128], src[:128])
    np.testing.assert_array_equal(dst[128:], src[:128])


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 400), a=st.integers(0, 100), b=st.integers(0, 100),
       split=st.booleans())
def test_memcpy_overlap_is_memmove(n, a, b, split):
    base = np.arange(600, dtype=np.uint8)
    expected = bytearray(base.tobytes())
    expected[a:a + n] = bytes(expected[b:b + n])
    address = base.ctypes.data
    with tiny_pieces(split):
        ENGINES[2].copy(address + a, address + b, memcpy, n)
    assert base.tobytes() == bytes(expected)


def test_memcpy_large_split_copy():
    src = np.random.default_rng(3).integers(0, 255, (9 << 20) + 5, np.uint8)
    dst = np.zeros_like(src)
    with HostDMA(2) as dma:
        request = dma.async_copy(dst, src, memcpy)
        assert request._count > 1
        request.wait()
    np.testing.assert_array_equal(dst, src)


# ---------------------------------------------------------------- bad input


def fresh_dst():
    return np.zeros((4, 4), np.float64)


BAD = [
    # (op, dst, src, op_arg, error, message)
    (None, "dst", np.zeros(3), None, TypeError, "numpy array"),
    (None, fresh_dst(), [1, 2], None, TypeError, "numpy array"),
    (None, fresh_dst(), np.zeros((4, 5)), None, ValueError, "shape"),
    (None, fresh_dst(), np.zeros((4, 4), np.float32), None, TypeError,
     "dtype"),
    (None, fresh_dst(), np.zeros((4, 4), ">f8"), None, TypeError, "dtype"),
    (None, np.zeros((2, 2), object), np.zeros((2, 2), object), None,
     TypeError, "objects"),
    (None, fresh_dst(), fresh_dst(), 3, TypeError, "no op_arg"),
    (None, np.broadcast_to(np.zeros(4), (4, 4)), fresh_dst(), None,
     ValueError, "read-only"),
    (None, np.lib.stride_tricks.as_strided(np.zeros(4), (4, 4), (8, 0),
                                           writeable=True),
     fresh_dst(), None, ValueError, "share memory"),
    (copy_1d, fresh_dst(), fresh_dst(), None, ValueError, "1-D"),
    (copy_1d, np.zeros(8)[::2], np.zeros(4), None, ValueError, "dense"),
    (copy_1d, np.zeros(4), np.zeros(5), None, ValueError, "shape"),
    (copy_1d, np.zeros(4), np.zeros(4, np.int64), None, TypeError, "dtype"),
    (transform, np.zeros((3, 2)), np.zeros((2, 3)), (0, 0), ValueError,
     "permutation"),
    (transform, np.zeros((3, 2)), np.zeros((2, 3)), (0, 1), ValueError,
     "shape"),
    (transform, np.zeros((3, 2)), np.zeros((2, 3)), "ab", TypeError,
     "ints"),
    (transform, np.zeros((3, 2)), np.zeros((2, 3)), 5, TypeError,
     "sequence"),
    (memcpy, 0x1000, 0x2000, None, TypeError, "nbytes"),
    (memcpy, np.zeros(4), np.zeros(4), -1, ValueError, "negative"),
    (memcpy, np.zeros(4), np.zeros(4), 33, ValueError, "do not fit"),
    (memcpy, np.zeros(2), np.zeros(8), None, ValueError, "16-byte dst"),
    (memcpy, np.zeros(4), np.zeros(4), 2.0, TypeError, "int"),
    (memcpy, np.zeros(4), np.zeros(4), True, TypeError, "int"),
    (memcpy, b"read-only", b"source", None, ValueError, "read-only"),
    (memcpy, np.zeros(4)[::2], np.zeros(2), None, ValueError,
     "contiguous"),
    (memcpy, 0, 0x1000, 8, ValueError, "null"),
    (memcpy, -5, 0x1000, 8, ValueError, "address"),
    (memcpy, True, 0x1000, 8, TypeError, "bool"),
    (memcpy, 1.5, 0x1000, 8, TypeError, "address"),
    (memcpy, np.zeros(4), ctypes.c_void_p(None), 8, ValueError, "null"),
]


@pytest.mark.parametrize("op, dst, src, arg, error, message", BAD)
def test_bad_input_raises_before_anything_is_queued(op, dst, src, arg,
                                                    error, message):
    before = dst.copy() if isinstance(dst, np.ndarray) else None
    with HostDMA(1) as dma:
        with pytest.raises(error, match=message):
            dma.async_copy(dst, src, op, arg)
        assert not dma._engine._outstanding         # nothing queued
    if before is not None:
        np.testing.assert_array_equal(dst, before)  # nothing copied
    with pytest.raises(error):                      # the same, called alone
        (op or copy_generic)(dst, src, arg)


def test_memcpy_fits_when_nbytes_given():
    dst, src = np.zeros(8), np.arange(2.0)
    with HostDMA(1) as dma:
        dma.copy(dst, src, memcpy, 16)
    np.testing.assert_array_equal(dst[:2], src)


def test_operator_repr_and_docs():
    for op in (copy_1d, copy_generic, memcpy, transform):
        assert op.__name__ in repr(op)
        assert op.__doc__
