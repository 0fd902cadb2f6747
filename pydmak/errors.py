"""Exceptions raised by pydmak."""

import os

__all__ = ["DmakError", "DeviceNotFoundError"]

_SYS_MODULE = "/sys/module/dmak"


class DmakError(OSError):
    """A request to the dmak driver failed; ``errno`` says how."""


class DeviceNotFoundError(DmakError, FileNotFoundError):
    """No dmak device is there to open."""

    @classmethod
    def explain(cls, wanted: str) -> "DeviceNotFoundError":
        """Builds the error for a missing ``wanted`` device, saying why."""
        import errno

        if not os.path.isdir(_SYS_MODULE):
            why = ("the dmak kernel module is not loaded: install it with "
                   "'make dkms-install' and load it with 'modprobe dmak'; "
                   "on a machine without an FPGA, 'modprobe dmak_sim' first "
                   "adds a simulated AXI DMA IP")
        else:
            why = ("dmak is loaded but no AXI DMA instance is bound to it: "
                   "the device tree needs a node with compatible "
                   "'pydmak,axi-dma' or 'xlnx,axi-dma-1.00.a' (where the "
                   "xilinx_dma driver claims it, write 'dmak' to the "
                   "device's driver_override)")
        return cls(errno.ENOENT, f"no dmak device {wanted}: {why}")
