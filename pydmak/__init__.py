"""pydmak: the Xilinx AXI DMA from Python.

A ctypes-only wrapper of the dmak kernel driver (``/dev/dmakN``) with a
PYNQ-compatible API. Importing needs no device; the first call that touches
one raises :class:`DeviceNotFoundError` saying what is missing.
"""

import pathlib as _pathlib

from ._uapi import SYNC_BIDIRECTIONAL, SYNC_FROM_DEVICE, SYNC_TO_DEVICE
from .buffer import DMABuffer, allocate, from_dmabuf
from .cachelines import CacheLineError
from .device import (Device, DeviceEntry, DeviceInfo, RawBuffer,
                     default_device, devices)
from .dma import DMA, DMAChannel, DMAError, DMATimeoutError
from .errors import DeviceNotFoundError, DmakError
from .hostdma import HostDMA, Request
from .registers import Register, RegisterMap
from .stream import CyclicStream, Slot


def _read_version() -> str:
    # pydmak/VERSION: the top-level VERSION of the source tree, copied into
    # the package by a build; the modules and DKMS read the same file.
    return (_pathlib.Path(__file__).with_name("VERSION")
            .read_text(encoding="ascii").strip())


__version__ = _read_version()

__all__ = [
    "CacheLineError",
    "CyclicStream",
    "DMA",
    "DMABuffer",
    "DMAChannel",
    "DMAError",
    "DMATimeoutError",
    "Device",
    "DeviceEntry",
    "DeviceInfo",
    "DeviceNotFoundError",
    "DmakError",
    "HostDMA",
    "RawBuffer",
    "Register",
    "RegisterMap",
    "Request",
    "SYNC_BIDIRECTIONAL",
    "SYNC_FROM_DEVICE",
    "SYNC_TO_DEVICE",
    "Slot",
    "allocate",
    "default_device",
    "devices",
    "from_dmabuf",
    "include_dir",
]


def include_dir() -> str:
    """The directory holding ``dmak.h``, the driver's ioctl ABI, for C
    programs built against the installed package (``-I``)."""
    return str(_pathlib.Path(__file__).with_name("include"))
