"""Register names, offsets and bit-field decoding of pydmak.registers, and
the read-only, live RegisterMap over a fake REGS ioctl."""

import pytest

from pydmak import registers as r
from pydmak.device import DeviceInfo

# PG021 offsets
OFFSETS = {
    "MM2S_DMACR": 0x00, "MM2S_DMASR": 0x04, "MM2S_CURDESC": 0x08,
    "MM2S_CURDESC_MSB": 0x0C, "MM2S_TAILDESC": 0x10,
    "MM2S_TAILDESC_MSB": 0x14, "MM2S_SA": 0x18, "MM2S_SA_MSB": 0x1C,
    "MM2S_LENGTH": 0x28, "SG_CTL": 0x2C, "S2MM_DMACR": 0x30,
    "S2MM_DMASR": 0x34, "S2MM_CURDESC": 0x38, "S2MM_CURDESC_MSB": 0x3C,
    "S2MM_TAILDESC": 0x40, "S2MM_TAILDESC_MSB": 0x44, "S2MM_DA": 0x48,
    "S2MM_DA_MSB": 0x4C, "S2MM_LENGTH": 0x58,
}


def _info(sg=False, addr_width=32, mm2s=True, s2mm=True):
    return DeviceInfo(abi_version=4, mm2s=mm2s, s2mm=s2mm, sg=sg, dre=False,
                      length_width=26, addr_width=addr_width, data_width=32,
                      ring_size=256 if sg else 0, max_transfer=1 << 20,
                      buf_quota=0, buf_used=0, desc_max=0, delay_unit_ns=0)


def test_every_register_at_its_pg021_offset():
    assert {n: s.offset for n, s in r.REGISTERS.items()} == OFFSETS
    assert list(r.REGISTERS) == sorted(OFFSETS, key=OFFSETS.get)


def test_dmasr_after_reset_with_sg():
    f = r.decode("MM2S_DMASR", 0x00010009)
    assert f["Halted"] == 1 and f["SGIncld"] == 1 and f["Idle"] == 0
    assert f["IRQThresholdSts"] == 1 and f["IRQDelaySts"] == 0
    assert all(f[k] == 0 for k in ("DMAIntErr", "DMASlvErr", "DMADecErr",
                                   "SGIntErr", "SGSlvErr", "SGDecErr",
                                   "IOC_Irq", "Dly_Irq", "Err_Irq"))


def test_dmasr_error_and_interrupt_bits():
    f = r.decode("S2MM_DMASR", (1 << 4) | (1 << 6) | (1 << 10) | (1 << 12)
                 | (1 << 14) | (0xAB << 24) | 2)
    assert (f["DMAIntErr"], f["DMASlvErr"], f["DMADecErr"]) == (1, 0, 1)
    assert (f["SGIntErr"], f["SGSlvErr"], f["SGDecErr"]) == (0, 0, 1)
    assert (f["IOC_Irq"], f["Dly_Irq"], f["Err_Irq"]) == (1, 0, 1)
    assert f["Idle"] == 1 and f["Halted"] == 0
    assert f["IRQDelaySts"] == 0xAB


def test_dmacr_fields():
    f = r.decode("S2MM_DMACR", 0x7F101011 | (1 << 14) | (1 << 2))
    assert f == {"RS": 1, "Reset": 1, "Keyhole": 0, "Cyclic_BD_Enable": 1,
                 "IOC_IrqEn": 1, "Dly_IrqEn": 0, "Err_IrqEn": 1,
                 "IRQThreshold": 0x10, "IRQDelay": 0x7F}


def test_length_sg_ctl_and_plain_registers():
    assert r.decode("MM2S_LENGTH", 0xFC000123) == {"Length": 0x123}
    assert r.decode("SG_CTL", 0xF0A) == {"SG_CACHE": 0xA, "SG_USER": 0xF}
    assert r.decode("S2MM_DA", 0x12345678) == {}
    with pytest.raises(AttributeError, match="no register 'MM2S_DA'"):
        r.decode("MM2S_DA", 0)


@pytest.mark.parametrize("name, kw, why", [
    ("MM2S_CURDESC", {}, "scatter-gather only"),
    ("SG_CTL", {}, "scatter-gather only"),
    ("MM2S_SA", {"sg": True}, "direct mode only"),
    ("S2MM_DA_MSB", {"sg": True, "addr_width": 64}, "direct mode only"),
    ("S2MM_LENGTH", {"sg": True}, "direct mode only"),
    ("MM2S_SA_MSB", {}, "address width 32"),
    ("S2MM_TAILDESC_MSB", {"sg": True}, "address width 32"),
    ("S2MM_DMASR", {"s2mm": False}, "no S2MM channel"),
    ("MM2S_DMACR", {"mm2s": False}, "no MM2S channel"),
    ("MM2S_SA", {}, None),
    ("MM2S_SA_MSB", {"addr_width": 64}, None),
    ("S2MM_CURDESC_MSB", {"sg": True, "addr_width": 40}, None),
    ("SG_CTL", {"sg": True}, None),
])
def test_absent_reason(name, kw, why):
    args = dict(mm2s=True, s2mm=True, sg=False, addr_width=32)
    args.update(kw)
    assert r.absent_reason(name, **args) == why


class FakeRegs:
    """Answers like DMAK_IOC_REGS; counts the reads."""

    def __init__(self, words, present):
        self.words, self.present, self.reads = list(words), present, 0

    def __call__(self):
        self.reads += 1
        return self.present, tuple(self.words)


def _sg_map(addr_width=32):
    present = sum(1 << r.REGISTERS[n].word for n in (
        "MM2S_DMACR", "MM2S_DMASR", "MM2S_CURDESC", "MM2S_TAILDESC",
        "SG_CTL", "S2MM_DMACR", "S2MM_DMASR", "S2MM_CURDESC",
        "S2MM_TAILDESC"))
    words = [0] * 23
    words[0] = words[12] = 0x00010002
    words[1] = words[13] = 0x00010009
    fake = FakeRegs(words, present)
    return r.RegisterMap(fake, _info(sg=True, addr_width=addr_width)), fake


def test_register_map_reads_live_each_access():
    rmap, fake = _sg_map()
    assert rmap.MM2S_DMASR.Halted == 1
    assert rmap.S2MM_DMACR.IRQThreshold == 1
    fake.words[1] = 0x00011002          # running, IOC_Irq
    assert rmap.MM2S_DMASR.Halted == 0
    assert rmap.MM2S_DMASR.IOC_Irq == 1
    assert fake.reads == 4


def test_register_is_an_int_with_fields():
    rmap, _ = _sg_map()
    reg = rmap.MM2S_DMASR
    assert int(reg) == 0x00010009 and reg == 0x00010009
    assert hex(reg) == "0x10009"
    assert reg[0] == 1 and reg[1] == 0 and reg[16:23] == 1
    assert reg.name == "MM2S_DMASR"
    assert reg.fields()["SGIncld"] == 1
    assert "Halted=1" in repr(reg) and "0x00010009" in str(reg)
    with pytest.raises(AttributeError, match="no field 'Halt'"):
        reg.Halt
    with pytest.raises(IndexError):
        reg[32]


def test_absent_register_says_why():
    rmap, _ = _sg_map()
    with pytest.raises(AttributeError, match="no MM2S_SA: direct mode only"):
        rmap.MM2S_SA
    with pytest.raises(AttributeError, match="address width 32"):
        rmap.S2MM_CURDESC_MSB
    with pytest.raises(AttributeError, match="no register 'MM2S_FOO'"):
        rmap.MM2S_FOO


def test_register_map_is_read_only_and_lists_what_exists():
    rmap, fake = _sg_map()
    with pytest.raises(AttributeError, match="read-only"):
        rmap.MM2S_DMACR = 1
    snap = rmap.snapshot()
    assert list(snap) == ["MM2S_DMACR", "MM2S_DMASR", "MM2S_CURDESC",
                          "MM2S_TAILDESC", "SG_CTL", "S2MM_DMACR",
                          "S2MM_DMASR", "S2MM_CURDESC", "S2MM_TAILDESC"]
    assert "MM2S_SA" not in dir(rmap) and "SG_CTL" in dir(rmap)
    text = repr(rmap)
    assert text.count("Register(") == 9 and "SGIncld=1" in text
    assert [reg.name for reg in rmap] == list(snap)
