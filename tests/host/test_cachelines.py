"""The cache-line rule for S2MM into cached memory, without a device.

On a device that does not snoop the CPU caches (sysfs ``cache_alignment``
above 1) pydmak refuses an S2MM range of a cached buffer that does not
start and end on a cache line, before the kernel sees it, and explains a
kernel ``EINVAL`` for that reason the same way; with ``cache_alignment`` 1
(a coherent device) and for coherent buffers there is no rule. A fake
kernel answers SUBMIT and CYCLIC and records what reached it.
"""

import errno
import os

import pytest

import pydmak
from fakes import FakeDevice, fake_buffer
from pydmak import _uapi
from pydmak import device as device_mod
from pydmak import dma as dma_mod
from pydmak import stream as stream_mod
from pydmak.device import DeviceInfo, RawBuffer

SG = DeviceInfo(abi_version=_uapi.ABI_VERSION, mm2s=True, s2mm=True,
                sg=True, dre=False, length_width=14, addr_width=32,
                data_width=32, ring_size=256, max_transfer=16320 * 256,
                buf_quota=0, buf_used=0, desc_max=16320, delay_unit_ns=1250)

RULE = ("/dev/dmakF: S2MM range [offset 100, 4096 bytes) of a cached "
        "buffer must start on a 64-byte cache line and end on one or with "
        "the buffer on this non-coherent device (it starts 36 bytes into a "
        "line and it ends 36 bytes into one, short of the buffer's end): "
        "use a coherent buffer (pydmak.allocate(..., cacheable=False)) or "
        "align the range (the whole lines inside it: offset 128, 4032 "
        "bytes)")


class FakeKernel:
    """Answers SUBMIT, CHANNEL_FD and CYCLIC; ``refuse`` makes the next
    SUBMIT or CYCLIC START fail with that errno, as the driver would."""

    def __init__(self) -> None:
        self.submitted = []         # (channel, offset, length) per entry
        self.started = []           # (offset, slot_size) per START
        self.refuse = 0
        self.seq = 0
        self.fds = []

    def __call__(self, fd, request, arg):
        assert fd == 1000
        if request == _uapi.IOC_CHANNEL_FD:
            r, w = os.pipe()
            self.fds += [r, w]
            arg.fd = r
            return 0
        if request == _uapi.IOC_CYCLIC:
            if arg.op == _uapi.CYCLIC_START:
                self._maybe_refuse()
                self.started.append((arg.offset, arg.slot_size))
            return 0
        assert request == _uapi.IOC_SUBMIT, hex(request)
        self._maybe_refuse()
        xfers = (_uapi.dmak_xfer * arg.count).from_address(arg.xfers)
        for x in xfers:
            self.submitted.append((x.channel, x.offset, x.length))
            if not x.flags & _uapi.XFER_MORE:
                self.seq += 1
            x.seq = self.seq
        return 0

    def _maybe_refuse(self):
        if self.refuse:
            err, self.refuse = self.refuse, 0
            raise OSError(err, os.strerror(err))

    def close(self):
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:         # a stream closed its end itself
                pass


@pytest.fixture
def kernel(monkeypatch):
    k = FakeKernel()
    monkeypatch.setattr(dma_mod, "ioctl", k)
    monkeypatch.setattr(stream_mod, "ioctl", k)
    yield k
    k.close()


def _dma(cache_alignment):
    return pydmak.DMA(FakeDevice(SG, cache_alignment))


@pytest.fixture
def arm(kernel):
    """A DMA on a device that does not snoop the caches: 64-byte lines."""
    return _dma(64)


@pytest.fixture
def x86(kernel):
    """A DMA on a coherent device: no rule."""
    return _dma(1)


# -- transfer() ---------------------------------------------------------------

def test_misaligned_cached_receive_is_refused_before_the_kernel(arm, kernel):
    buf = fake_buffer(arm.device, 8192, cached=True)
    with pytest.raises(ValueError) as info:
        arm.recvchannel.transfer(buf, 100, 4096)
    assert info.value.strerror == RULE
    assert isinstance(info.value, pydmak.CacheLineError)
    assert info.value.errno == errno.EINVAL
    assert kernel.submitted == []


@pytest.mark.parametrize("start, nbytes, wrong", [
    (64, 100, "it ends 36 bytes into one, short of the buffer's end"),
    (8, 128, "it starts 8 bytes into a line and it ends 8 bytes into one, "
     "short of the buffer's end"),
    (4, 60, "it starts 4 bytes into a line"),
])
def test_each_wrong_end_is_named(arm, kernel, start, nbytes, wrong):
    buf = fake_buffer(arm.device, 4096, cached=True)
    with pytest.raises(pydmak.CacheLineError, match=f"\\({wrong}\\)"):
        arm.recvchannel.transfer(buf, start, nbytes)
    assert kernel.submitted == []


def test_a_range_inside_one_line_has_no_whole_line_to_suggest(arm, kernel):
    buf = fake_buffer(arm.device, 4096, cached=True)
    with pytest.raises(pydmak.CacheLineError) as info:
        arm.recvchannel.transfer(buf, 4, 60)
    assert info.value.strerror.endswith("or align the range")


def test_what_the_rule_allows_reaches_the_kernel(arm, kernel):
    cached = fake_buffer(arm.device, 8192, cached=True)
    coherent = fake_buffer(arm.device, 8192)
    arm.recvchannel.transfer(cached, 128, 4096)          # whole lines
    arm.recvchannel.transfer(cached)                     # the whole buffer
    arm.recvchannel.transfer(coherent, 100, 4096)        # coherent: no rule
    arm.sendchannel.transfer(cached, 100, 4096)          # MM2S: no rule
    assert kernel.submitted == [(_uapi.S2MM, 128, 4096),
                                (_uapi.S2MM, 0, 8192),
                                (_uapi.S2MM, 100, 4096),
                                (_uapi.MM2S, 100, 4096)]


@pytest.mark.parametrize("size", [1, 100, 4095, 8192 + 36])
def test_a_receive_may_end_with_the_buffer(arm, kernel, size):
    """The rest of the buffer's last line is padding no array holds: a
    whole buffer of any size, or its tail from a line, is received into."""
    buf = fake_buffer(arm.device, size, cached=True)
    arm.recvchannel.transfer(buf)
    expected = [(_uapi.S2MM, 0, size)]
    if size > 64:
        arm.recvchannel.transfer(buf, 64)
        expected.append((_uapi.S2MM, 64, size - 64))
    assert kernel.submitted == expected
    if size > 4:
        with pytest.raises(pydmak.CacheLineError,
                           match="short of the buffer's end"):
            arm.recvchannel.transfer(buf, 0, size - 4)
    assert len(kernel.submitted) == len(expected)


def test_a_coherent_device_has_no_rule(x86, kernel):
    buf = fake_buffer(x86.device, 8192, cached=True)
    x86.recvchannel.transfer(buf, 100, 4096)
    x86.recvchannel.transfer([(buf, 4, 60), (buf, 100, 36)])
    assert kernel.submitted == [(_uapi.S2MM, 100, 4096),
                                (_uapi.S2MM, 4, 60), (_uapi.S2MM, 100, 36)]


def test_a_gather_names_the_piece(arm, kernel):
    buf = fake_buffer(arm.device, 8192, cached=True)
    with pytest.raises(pydmak.CacheLineError) as info:
        arm.recvchannel.transfer([(buf, 0, 64), (buf, 128, 100)])
    assert info.value.strerror.startswith(
        "/dev/dmakF: piece 1 of the gather: S2MM range [offset 128, 100 "
        "bytes) of a cached buffer must start on a 64-byte cache line and "
        "end on one or with the buffer on this non-coherent device (it "
        "ends 36 bytes into one, short of the buffer's end)")
    assert kernel.submitted == []


def test_transfer_many_names_the_item(arm, kernel):
    buf = fake_buffer(arm.device, 8192, cached=True)
    with pytest.raises(pydmak.CacheLineError) as info:
        arm.recvchannel.transfer_many([(buf, 0, 64), (buf, 100, 4096)])
    assert info.value.strerror == "item 1: " + RULE
    assert kernel.submitted == []


def test_loopback_checks_its_receive(arm, kernel):
    src = fake_buffer(arm.device, 8192, cached=True)
    dst = fake_buffer(arm.device, 8192, cached=True)
    with pytest.raises(pydmak.CacheLineError):
        arm.loopback((src, 100, 4096), (dst, 100, 4096))
    arm.loopback((src, 100, 4096), (dst, 128, 4096))
    assert kernel.submitted == [(_uapi.MM2S, 100, 4096),
                                (_uapi.S2MM, 128, 4096)]


# -- buffers whose rule only the kernel knows, and its EINVAL ----------------

def test_a_dmabuf_from_elsewhere_is_left_to_the_kernel(arm, kernel):
    """pydmak cannot tell how the exporter maps a dma-buf for the CPU: the
    kernel decides, and its EINVAL for the rule reads as the check's."""
    buf = fake_buffer(arm.device, 8192, imported=True)
    kernel.refuse = errno.EINVAL
    with pytest.raises(pydmak.CacheLineError) as info:
        arm.recvchannel.transfer(buf, 100, 4096)
    # Its size is not known here: the end, maybe the buffer's, goes unnamed.
    assert info.value.strerror == RULE.replace(
        " and it ends 36 bytes into one, short of the buffer's end", "")
    assert info.value.errno == errno.EINVAL
    kernel.refuse = errno.EINVAL
    with pytest.raises(pydmak.CacheLineError,
                       match=r"\(it ends 36 bytes into one\)"):
        arm.recvchannel.transfer(buf, 128, 100)
    arm.recvchannel.transfer(buf, 100, 4096)     # the exporter's coherent
    assert kernel.submitted == [(_uapi.S2MM, 100, 4096)]


def test_an_einval_for_another_reason_is_not_blamed_on_lines(arm, kernel):
    buf = fake_buffer(arm.device, 8192, imported=True)
    kernel.refuse = errno.EINVAL
    with pytest.raises(pydmak.DmakError) as info:
        arm.recvchannel.transfer(buf, 128, 4096)
    assert not isinstance(info.value, pydmak.CacheLineError)
    assert "SUBMIT" in str(info.value)


def test_einval_on_a_coherent_device_is_not_blamed_on_lines(x86, kernel):
    buf = fake_buffer(x86.device, 8192, cached=True)
    kernel.refuse = errno.EINVAL
    with pytest.raises(pydmak.DmakError) as info:
        x86.recvchannel.transfer(buf, 100, 4096)
    assert not isinstance(info.value, pydmak.CacheLineError)


def _shared(owner, cached, device):
    """``owner``'s buffer as imported on ``device`` (what alloc.on() does)."""
    buf = fake_buffer(owner, 8192, cached=cached)
    alloc = buf._dmak
    alloc.handle_live = True         # so that alloc.on() looks it up
    alloc.imports[id(device)] = (device, RawBuffer(
        handle=alloc.raw.handle + 1000, size=alloc.raw.size, cached=True,
        mmap_offset=0, dma_addr=0x20000000, imported=True))
    return buf


def test_another_devices_buffers(kernel):
    """A coherent buffer of a device that does not snoop is uncached for
    the CPU: no rule. One of a coherent device is cached memory: the rule.
    A cached one: the rule."""
    arm = _dma(64)
    uncached = _shared(_dma(64).device, False, arm.device)
    arm.recvchannel.transfer(uncached, 100, 4096)
    bufs = [uncached]
    for owner, cached in ((_dma(1).device, False), (_dma(64).device, True)):
        bufs.append(_shared(owner, cached, arm.device))
        with pytest.raises(pydmak.CacheLineError) as info:
            arm.recvchannel.transfer(bufs[-1], 100, 4096)
        assert info.value.strerror == RULE
    assert kernel.submitted == [(_uapi.S2MM, 100, 4096)]
    for buf in bufs:
        buf._dmak.imports.clear()
        buf._dmak.handle_live = False   # no kernel to give handles back to


# -- stream() -----------------------------------------------------------------

def test_stream_slots_must_be_whole_lines(arm, kernel):
    buf = fake_buffer(arm.device, 4096, cached=True)
    with pytest.raises(pydmak.CacheLineError) as info:
        arm.recvchannel.stream(buf, 4, 100)
    assert info.value.strerror == (
        "/dev/dmakF: S2MM slots [offset 0, 100 bytes each) of a cached "
        "buffer must start and end on 64-byte cache lines on this "
        "non-coherent device (slot_bytes 100 is not a multiple of 64): use "
        "a coherent buffer (pydmak.allocate(..., cacheable=False)), or "
        "slots a multiple of 64 bytes from a line")
    odd = fake_buffer(arm.device, 4096, cached=True, misalign=8)
    with pytest.raises(pydmak.CacheLineError,
                       match="slot 0 starts 8 bytes into a line"):
        arm.recvchannel.stream(odd, 4, 128)
    assert kernel.started == []


def test_stream_default_slots_are_whole_lines(arm, x86, kernel):
    """The default slot size rounds down to the line where the rule
    applies, and only there."""
    buf = fake_buffer(arm.device, 4 * 1000, cached=True)
    with arm.recvchannel.stream(buf, 4) as s:
        assert s.slot_bytes == 960
    with arm.recvchannel.stream(fake_buffer(arm.device, 4000), 4) as s:
        assert s.slot_bytes == 1000                   # coherent
    with x86.recvchannel.stream(fake_buffer(x86.device, 4000,
                                            cached=True), 4) as s:
        assert s.slot_bytes == 1000                   # coherent device
    assert kernel.started == [(0, 960), (0, 1000), (0, 1000)]


def test_stream_einval_of_the_kernel_reads_as_the_check(arm, kernel):
    buf = fake_buffer(arm.device, 4096, imported=True)
    kernel.refuse = errno.EINVAL
    with pytest.raises(pydmak.CacheLineError,
                       match=r"S2MM slots \[offset 0, 100 bytes each\)"):
        arm.recvchannel.stream(buf, 4, 100)
    with arm.recvchannel.stream(buf, 4, 100) as s:    # the kernel took it
        assert s.slot_bytes == 100
    assert kernel.started == [(0, 100)]


# -- where the rule comes from ------------------------------------------------

def test_cache_alignment_is_read_from_the_devices_sysfs(monkeypatch):
    """From /sys/dev/char/MAJOR:MINOR of the open file, so any name of the
    device node works; 1 for a module without the attribute."""
    asked = []
    values = {"cache_alignment": "128"}

    def sysfs_text(directory, attr):
        asked.append((directory, attr))
        return values.get(attr)

    monkeypatch.setattr(device_mod, "_sysfs_text", sysfs_text)
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        dev = FakeDevice(SG, None)
        dev._fd = fd
        rdev = os.fstat(fd).st_rdev
        assert dev.cache_alignment == 128
        assert asked == [(f"/sys/dev/char/{os.major(rdev)}:"
                          f"{os.minor(rdev)}", "cache_alignment")]
        assert dev.cache_alignment == 128 and len(asked) == 1   # read once
        values.clear()
        dev = FakeDevice(SG, None)
        dev._fd = fd
        assert dev.cache_alignment == 1
    finally:
        os.close(fd)
