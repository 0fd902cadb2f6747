"""pydmak without a device: imports, and says what is missing."""

import errno

import numpy as np
import pytest

import pydmak
from pydmak._memory import byte_span


def test_import_needs_no_device():
    assert pydmak.devices() == []


def test_opening_says_what_is_missing():
    with pytest.raises(pydmak.DeviceNotFoundError) as exc:
        pydmak.Device()
    assert exc.value.errno == errno.ENOENT
    assert isinstance(exc.value, FileNotFoundError)
    assert "modprobe dmak" in str(exc.value)


def test_named_device_that_is_absent():
    with pytest.raises(pydmak.DeviceNotFoundError, match="/dev/dmak7"):
        pydmak.Device(7)


def test_allocate_without_device():
    with pytest.raises(pydmak.DeviceNotFoundError):
        pydmak.allocate(16)


@pytest.mark.parametrize("shape, exc, text", [
    (0, ValueError, "at least one byte"),
    ((4, 0), ValueError, "at least one byte"),
    (-1, ValueError, "negative"),
    ("ten", TypeError, "shape"),
    (2.5, TypeError, "shape"),
])
def test_allocate_rejects_bad_shape_first(shape, exc, text):
    with pytest.raises(exc, match=text):
        pydmak.allocate(shape)


def test_allocate_rejects_object_dtype():
    with pytest.raises(TypeError, match="Python objects"):
        pydmak.allocate(4, dtype=object)


@pytest.mark.parametrize("bad", [-1, 1.5, True, [0]])
def test_device_rejects_bad_index(bad):
    with pytest.raises((TypeError, ValueError)):
        pydmak.Device(bad)


@pytest.mark.parametrize("make", [
    lambda: np.arange(24, dtype="u4").reshape(4, 6),
    lambda: np.arange(24, dtype="u4").reshape(4, 6)[::-1, ::2],
    lambda: np.arange(24, dtype="u8").reshape(4, 6).T[1:, 3:],
    lambda: np.arange(24, dtype="u2")[5:5],
    lambda: np.arange(60, dtype="f4").reshape(3, 4, 5)[:, ::-2, 1::3],
])
def test_byte_extent_matches_numpy(make):
    arr = make()
    low, high = byte_span(arr)
    if arr.size:
        assert (low, high) == np.lib.array_utils.byte_bounds(arr)
    else:
        assert low == high
