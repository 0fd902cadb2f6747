"""The AXI DMA's registers (PG021), read live through ``DMAK_IOC_REGS``.

``dma.register_map`` works as PYNQ's register maps do, read-only::

    dma.register_map.MM2S_DMASR.Halted          # 1 while the channel halts
    dma.register_map.S2MM_DMACR.IRQThreshold    # a multi-bit field, an int
    int(dma.register_map.MM2S_DMACR)            # the whole register
    print(dma.register_map)                     # every register, decoded

Each attribute access reads the hardware again (one ioctl, no ``/dev/mem``),
and returns a :class:`Register`: the value at that moment with its bit
fields as attributes. Registers the IP does not have (an absent channel,
the SG registers in direct mode, SA/DA and LENGTH with SG, the MSB words on
32-bit IPs) raise ``AttributeError`` saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Tuple


__all__ = ["Field", "Register", "RegisterMap", "RegisterSpec", "REGISTERS",
           "absent_reason", "decode"]


@dataclass(frozen=True)
class Field:
    """A bit field: bits ``lo`` to ``hi`` (inclusive) of its register."""

    name: str
    hi: int
    lo: int

    def get(self, value: int) -> int:
        """The field's value within the register value ``value``."""
        return (value >> self.lo) & ((1 << (self.hi - self.lo + 1)) - 1)


@dataclass(frozen=True)
class RegisterSpec:
    """A register: its PG021 name, byte offset and bit fields."""

    name: str
    offset: int
    fields: Tuple[Field, ...] = ()

    @property
    def word(self) -> int:
        """Its index in ``dmak_regs.regs`` (offset / 4)."""
        return self.offset // 4


_DMACR = (Field("RS", 0, 0), Field("Reset", 2, 2), Field("Keyhole", 3, 3),
          Field("Cyclic_BD_Enable", 4, 4), Field("IOC_IrqEn", 12, 12),
          Field("Dly_IrqEn", 13, 13), Field("Err_IrqEn", 14, 14),
          Field("IRQThreshold", 23, 16), Field("IRQDelay", 31, 24))
_DMASR = (Field("Halted", 0, 0), Field("Idle", 1, 1), Field("SGIncld", 3, 3),
          Field("DMAIntErr", 4, 4), Field("DMASlvErr", 5, 5),
          Field("DMADecErr", 6, 6), Field("SGIntErr", 8, 8),
          Field("SGSlvErr", 9, 9), Field("SGDecErr", 10, 10),
          Field("IOC_Irq", 12, 12), Field("Dly_Irq", 13, 13),
          Field("Err_Irq", 14, 14), Field("IRQThresholdSts", 23, 16),
          Field("IRQDelaySts", 31, 24))
_LENGTH = (Field("Length", 25, 0),)
_SG_CTL = (Field("SG_CACHE", 3, 0), Field("SG_USER", 11, 8))


def _bank(prefix: str, base: int, addr: str) -> List[RegisterSpec]:
    return [RegisterSpec(f"{prefix}_DMACR", base + 0x00, _DMACR),
            RegisterSpec(f"{prefix}_DMASR", base + 0x04, _DMASR),
            RegisterSpec(f"{prefix}_CURDESC", base + 0x08),
            RegisterSpec(f"{prefix}_CURDESC_MSB", base + 0x0C),
            RegisterSpec(f"{prefix}_TAILDESC", base + 0x10),
            RegisterSpec(f"{prefix}_TAILDESC_MSB", base + 0x14),
            RegisterSpec(f"{prefix}_{addr}", base + 0x18),
            RegisterSpec(f"{prefix}_{addr}_MSB", base + 0x1C),
            RegisterSpec(f"{prefix}_LENGTH", base + 0x28, _LENGTH)]


#: Every register of the AXI DMA, by name, in address order.
REGISTERS: Dict[str, RegisterSpec] = {
    spec.name: spec for spec in sorted(
        _bank("MM2S", 0x00, "SA") + [RegisterSpec("SG_CTL", 0x2C, _SG_CTL)]
        + _bank("S2MM", 0x30, "DA"), key=lambda s: s.offset)}

_SG_ONLY = ("_CURDESC", "_CURDESC_MSB", "_TAILDESC", "_TAILDESC_MSB")
_DIRECT_ONLY = ("_SA", "_SA_MSB", "_DA", "_DA_MSB", "_LENGTH")


def _spec(name: str) -> RegisterSpec:
    try:
        return REGISTERS[name]
    except KeyError:
        raise AttributeError(
            f"the AXI DMA has no register {name!r}; it has "
            f"{', '.join(REGISTERS)}") from None


def decode(name: str, value: int) -> Dict[str, int]:
    """The bit fields of register ``name`` holding ``value``, by name.

    Registers without fields (addresses) decode to an empty dict.
    """
    return {f.name: f.get(value) for f in _spec(name).fields}


def absent_reason(name: str, *, mm2s: bool, s2mm: bool, sg: bool,
                  addr_width: int) -> Optional[str]:
    """Why the IP described by the flags lacks register ``name``, or None
    if it has it (the rule ``DMAK_IOC_REGS`` reports as ``present``)."""
    _spec(name)
    if name == "SG_CTL":
        return None if sg else "scatter-gather only"
    channel = name[:4]
    if not (mm2s if channel == "MM2S" else s2mm):
        return f"no {channel} channel"
    suffix = name[4:]
    if suffix in _SG_ONLY and not sg:
        return "scatter-gather only"
    if suffix in _DIRECT_ONLY and sg:
        return "direct mode only"
    if suffix.endswith("_MSB") and addr_width <= 32:
        return "address width 32"
    return None


class Register:
    """One register's value, read at one moment, with its fields.

    ``int(reg)`` is the whole word; each field is an attribute
    (``reg.Halted``); ``reg[3]`` is bit 3 and ``reg[16:23]`` bits 16 to 23
    (inclusive, as in PG021). Compares equal to an int of the same value.
    """

    __slots__ = ("spec", "value")

    def __init__(self, spec: RegisterSpec, value: int) -> None:
        self.spec = spec
        self.value = value

    @property
    def name(self) -> str:
        """The register's PG021 name, e.g. ``MM2S_DMASR``."""
        return self.spec.name

    def fields(self) -> Dict[str, int]:
        """Every bit field by name."""
        return {f.name: f.get(self.value) for f in self.spec.fields}

    def __getattr__(self, name: str) -> int:
        for field in self.spec.fields:
            if field.name == name:
                return field.get(self.value)
        names = ", ".join(f.name for f in self.spec.fields) or "none"
        raise AttributeError(f"{self.spec.name} has no field {name!r} "
                             f"(its fields: {names})")

    def __dir__(self) -> List[str]:
        return sorted(set(object.__dir__(self))
                      | {f.name for f in self.spec.fields})

    def __getitem__(self, bit) -> int:
        if isinstance(bit, slice):
            if bit.step is not None:
                raise ValueError("a bit range has no step")
            lo, hi = sorted((bit.start or 0, 31 if bit.stop is None
                             else bit.stop))
            return Field("", hi, lo).get(self.value)
        if not isinstance(bit, int) or not 0 <= bit < 32:
            raise IndexError(f"bit {bit!r} is not in 0..31")
        return (self.value >> bit) & 1

    def __int__(self) -> int:
        return self.value

    __index__ = __int__

    def __eq__(self, other) -> bool:
        if isinstance(other, Register):
            return (self.spec, self.value) == (other.spec, other.value)
        if isinstance(other, int):
            return self.value == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in self.fields().items())
        return (f"Register({self.spec.name}=0x{self.value:08x}"
                f"{': ' + fields if fields else ''})")

    __str__ = __repr__


#: Reads the registers: returns (present mask, words) as DMAK_IOC_REGS does.
Reader = Callable[[], Tuple[int, Tuple[int, ...]]]


class RegisterMap:
    """The registers of one AXI DMA, read-only, read live on each access.

    ``read`` returns ``(present, words)`` as ``DMAK_IOC_REGS`` gives them;
    ``info`` (a :class:`~pydmak.DeviceInfo`) explains absent registers.
    """

    def __init__(self, read: Reader, info=None) -> None:
        object.__setattr__(self, "_read", read)
        object.__setattr__(self, "_info", info)

    def _reason(self, name: str) -> str:
        info = self._info
        if info is None:
            return "absent on this IP"
        return absent_reason(name, mm2s=info.mm2s, s2mm=info.s2mm,
                             sg=info.sg, addr_width=info.addr_width) or \
            "absent on this IP"

    def __getattr__(self, name: str) -> Register:
        if name.startswith("_"):
            raise AttributeError(name)
        spec = _spec(name)
        present, words = self._read()
        if not present & (1 << spec.word):
            raise AttributeError(f"this AXI DMA has no {name}: "
                                 f"{self._reason(name)}")
        return Register(spec, words[spec.word])

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError("the register map is read-only: use the "
                             "channel methods (start, stop, reset, "
                             "coalesce) to change the engine")

    def snapshot(self) -> Dict[str, Register]:
        """Every register the IP has, all read at once (one ioctl)."""
        present, words = self._read()
        return {name: Register(spec, words[spec.word])
                for name, spec in REGISTERS.items()
                if present & (1 << spec.word)}

    def __iter__(self) -> Iterator[Register]:
        return iter(self.snapshot().values())

    def __dir__(self) -> List[str]:
        present, _ = self._read()
        return sorted(set(object.__dir__(self))
                      | {n for n, s in REGISTERS.items()
                         if present & (1 << s.word)})

    def __repr__(self) -> str:
        lines = [f"  {reg!r}" for reg in self.snapshot().values()]
        return "RegisterMap {\n" + ",\n".join(lines) + "\n}"

    __str__ = __repr__
