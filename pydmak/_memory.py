"""Where a numpy array's bytes are: its address and the span it touches."""

from typing import Tuple

import numpy as np

Span = Tuple[int, int]


def address(arr: np.ndarray) -> int:
    """Address of the array's first element."""
    return arr.__array_interface__["data"][0]


def byte_span(arr: np.ndarray) -> Span:
    """First and one-past-last byte address that ``arr`` touches."""
    low = high = address(arr)
    if arr.size == 0:
        return low, low
    for n, stride in zip(arr.shape, arr.strides):
        if stride < 0:
            low += (n - 1) * stride
        else:
            high += (n - 1) * stride
    return low, high + arr.itemsize
