"""DMAChannel without a device: piece checks, batching, wait(), coalescing.

The pure helpers are tested directly; the channel's requests are tested
against a fake kernel (``ioctl`` replaced) that hands out sequence numbers
and answers WAIT and CHAN_OP as the header describes.
"""

import ctypes
import errno

import numpy as np
import pytest

import pydmak
from fakes import FakeDevice, fake_buffer
from pydmak import _uapi
from pydmak import dma as dma_mod
from pydmak.device import DeviceInfo
from pydmak.dma import (check_packet, chunk_groups, coalesce_args,
                        delay_units, normalise_pieces)

DIRECT = DeviceInfo(abi_version=_uapi.ABI_VERSION, mm2s=True, s2mm=True,
                    sg=False, dre=False, length_width=14, addr_width=32,
                    data_width=32, ring_size=0, max_transfer=16383,
                    buf_quota=0, buf_used=0, desc_max=0, delay_unit_ns=0)
SG = DeviceInfo(abi_version=_uapi.ABI_VERSION, mm2s=True, s2mm=True,
                sg=True, dre=False, length_width=14, addr_width=32,
                data_width=32, ring_size=256, max_transfer=16320 * 256,
                buf_quota=0, buf_used=0, desc_max=16320, delay_unit_ns=1250)


# -- pure helpers ------------------------------------------------------------

def test_pieces_of_one_array():
    a = np.zeros(8, np.uint8)
    assert normalise_pieces(a) == [(a, 0, 0)]
    assert normalise_pieces(a, 2, 4) == [(a, 2, 4)]
    assert normalise_pieces((a, 2, 4)) == [(a, 2, 4)]
    assert normalise_pieces((a, 2)) == [(a, 2, 0)]
    assert normalise_pieces((a,)) == [(a, 0, 0)]


def test_pieces_of_a_gather():
    a, b = np.zeros(8, np.uint8), np.zeros(4, np.uint8)
    assert normalise_pieces([a, (b, 1), (a, 0, 4)]) == [
        (a, 0, 0), (b, 1, 0), (a, 0, 4)]
    assert normalise_pieces((a, b)) == [(a, 0, 0), (b, 0, 0)]
    assert normalise_pieces([(a, 4, 4)]) == [(a, 4, 4)]


@pytest.mark.parametrize("bad, exc, text", [
    ([], ValueError, "at least one piece"),
    (42, TypeError, "not int"),
    ("abc", TypeError, "not str"),
    ([np.zeros(4), 5], TypeError, "piece 1 of the gather"),
    ([np.zeros(4), [np.zeros(4)]], TypeError, "piece 1 of the gather"),
    ([(1, 2)], TypeError, "piece 0"),
])
def test_bad_pieces(bad, exc, text):
    with pytest.raises(exc, match=text):
        normalise_pieces(bad)


def test_start_and_nbytes_go_with_a_single_array():
    a = np.zeros(8, np.uint8)
    with pytest.raises(TypeError, match=r"\(array, start, nbytes\)"):
        normalise_pieces([a, a], 4)
    with pytest.raises(TypeError, match="single array"):
        normalise_pieces((a, 0, 4), 0, 4)


def test_packet_limits_direct():
    check_packet([16383], DIRECT)
    check_packet([1], DIRECT)
    with pytest.raises(ValueError, match="16384 bytes is more") as exc:
        check_packet([16384], DIRECT)
    assert "at most 16383" in str(exc.value)
    assert "14-bit length register" in str(exc.value)


def test_packet_limits_sg():
    check_packet([SG.max_transfer], SG)
    with pytest.raises(ValueError, match="ring_size") as exc:
        check_packet([SG.max_transfer + 1], SG)
    assert "16320 bytes per descriptor x 256 descriptors" in str(exc.value)
    with pytest.raises(ValueError, match="the 2 pieces together"):
        check_packet([SG.max_transfer, 4], SG)


def test_gather_pieces_must_be_aligned_but_the_last():
    check_packet([4, 8, 16320, 3], SG)
    with pytest.raises(ValueError, match="piece 1 .* 6 bytes") as exc:
        check_packet([4, 6, 4], SG)
    assert "multiple of 4" in str(exc.value)
    dre = DeviceInfo(**{**SG.__dict__, "dre": True})
    check_packet([3, 5, 7], dre)


def test_gather_descriptors_must_fit_the_ring():
    check_packet([4] * 256, SG)
    # 200 pieces of 16324 bytes take two descriptors each: 400 > 256.
    with pytest.raises(ValueError, match="400 descriptors"):
        check_packet([16324] * 200, SG)
    with pytest.raises(ValueError, match="at most 256"):
        check_packet([4] * 257, SG)


def test_chunks_never_split_a_group():
    groups = [[i] for i in range(250)] + [list(range(10))] + \
        [[i] for i in range(5)]
    runs = list(chunk_groups(groups, 256))
    assert [sum(map(len, r)) for r in runs] == [250, 15]
    assert [g for r in runs for g in r] == groups
    assert list(chunk_groups([], 256)) == []
    runs = list(chunk_groups([[0]] * 600, 256))
    assert [len(r) for r in runs] == [256, 256, 88]
    with pytest.raises(ValueError):
        list(chunk_groups([list(range(257))], 256))


@pytest.mark.parametrize("delay_us, units", [
    (None, 0), (0, 0), (0.0, 0), (0.001, 1), (1.25, 1), (1.8, 1),
    (1.9, 2), (2.5, 2), (10, 8), (318.75, 255), (319.3, 255)])
def test_delay_units_round_to_nearest(delay_us, units):
    assert delay_units(delay_us, 1250) == units


@pytest.mark.parametrize("delay_us, exc, text", [
    (-1, ValueError, "negative"), (float("nan"), ValueError, "negative"),
    (320, ValueError, "at most 318.75 µs"),
    (float("inf"), ValueError, "at most 318.75 µs"),
    (1e300, ValueError, "too long"),
    ("5", TypeError, "microseconds"), (True, TypeError, "microseconds")])
def test_bad_delays(delay_us, exc, text):
    with pytest.raises(exc, match=text):
        delay_units(delay_us, 1250)


def test_coalesce_args():
    assert coalesce_args(1, None, 1250) == (1, 0)
    assert coalesce_args(1, 5, 1250) == (1, 4)
    assert coalesce_args(16, 100, 1250) == (16, 80)
    assert coalesce_args(np.uint8(255), 1, 1250) == (255, 1)
    for bad in (0, 256, -1):
        with pytest.raises(ValueError, match="1..255"):
            coalesce_args(bad, 10, 1250)
    for bad in (1.0, "2", True, None):
        with pytest.raises(TypeError, match="threshold"):
            coalesce_args(bad, 10, 1250)
    with pytest.raises(ValueError, match="needs a delay"):
        coalesce_args(2, None, 1250)
    with pytest.raises(ValueError, match="needs a delay"):
        coalesce_args(16, 0, 1250)


# -- a channel over a fake kernel ---------------------------------------------

class FakeKernel:
    """Answers SUBMIT, WAIT and CHAN_OP like the driver, and logs them."""

    def __init__(self) -> None:
        self.calls = []            # (name, detail)
        self.next_seq = {0: 1, 1: 1}
        self.results = {}          # (channel, seq) -> (status, bytes)
        self.unfinished = set()    # (channel, seq) that time out
        self.gone = set()          # (channel, seq) whose result is lost
        self.eintr = 0             # WAITs to interrupt first
        self.fail = {}             # (channel, nth transfer) -> status
        self.coalescing = {0: (1, 0), 1: (1, 0)}
        self.irqs = {0: 7, 1: 9}

    def __call__(self, fd, request, arg):
        assert fd == 1000
        if request == _uapi.IOC_SUBMIT:
            return self.submit(arg)
        if request == _uapi.IOC_WAIT:
            return self.wait(arg)
        if request == _uapi.IOC_CHAN_OP:
            return self.chan_op(arg)
        raise AssertionError(f"unexpected ioctl {request:#x}")

    def submit(self, arg):
        assert 1 <= arg.count <= _uapi.SUBMIT_MAX and arg.flags == 0
        xfers = (_uapi.dmak_xfer * arg.count).from_address(arg.xfers)
        entries = [(x.channel, x.handle, x.offset, x.length, x.flags)
                   for x in xfers]
        self.calls.append(("SUBMIT", entries))
        run = []
        for x in xfers:
            assert x.length >= 1 and x.reserved == 0
            run.append(x)
            if x.flags & _uapi.XFER_MORE:
                continue
            assert {r.channel for r in run} == {x.channel}
            ch = x.channel
            seq = self.next_seq[ch]
            self.next_seq[ch] += 1
            status = self.fail.get((ch, seq), _uapi.ST_OK)
            total = sum(r.length for r in run)
            self.results[(ch, seq)] = (status, total if status == 0 else 0)
            for r in run:
                r.seq = seq
            run = []
        assert not run, "a batch ended inside a gather (MORE on its last)"
        return 0

    def wait(self, arg):
        self.calls.append(("WAIT", (arg.channel, arg.seq)))
        if self.eintr:
            self.eintr -= 1
            raise OSError(errno.EINTR, "interrupted")
        key = (arg.channel, arg.seq)
        if key in self.unfinished:
            raise OSError(errno.ETIMEDOUT, "timed out")
        if key in self.gone:
            raise OSError(errno.ENOENT, "gone")
        arg.status, arg.bytes = self.results[key]
        arg.dmasr = 0x4041 if arg.status == _uapi.ST_DMA_DEC_ERR else 0x2
        return 0

    def chan_op(self, arg):
        self.calls.append(("CHAN_OP", (arg.channel, arg.op)))
        if arg.op == _uapi.OP_COALESCE:
            t, d = arg.irq_threshold, arg.irq_delay
            if not 1 <= t <= 255 or d > 255 or (t > 1 and d == 0):
                raise OSError(errno.EINVAL, "bad")
            self.coalescing[arg.channel] = (t, d)
        arg.irq_threshold, arg.irq_delay = self.coalescing[arg.channel]
        arg.irqs = self.irqs[arg.channel]
        return 0

    def count(self, name):
        return sum(1 for n, _ in self.calls if n == name)


@pytest.fixture
def kernel(monkeypatch):
    k = FakeKernel()
    monkeypatch.setattr(dma_mod, "ioctl", k)
    return k


def _dma(info):
    return pydmak.DMA(FakeDevice(info))


@pytest.fixture
def sg(kernel):
    return _dma(SG)


@pytest.fixture
def direct(kernel):
    return _dma(DIRECT)


def test_single_transfer_is_one_entry(sg, kernel):
    buf = fake_buffer(sg.device, 4096)
    seq = sg.sendchannel.transfer(buf, 8, 100, cookie=5)
    assert kernel.calls == [("SUBMIT", [(0, buf._dmak.raw.handle, 8, 100,
                                         0)])]
    assert list(sg.sendchannel._pending) == [seq]


def test_gather_chains_its_entries_with_more(sg, kernel):
    a, b, c = (fake_buffer(sg.device, n) for n in (64, 4096, 100))
    seq = sg.sendchannel.transfer([a, (b, 4, 8), (c, 0, 3)])
    (name, entries), = kernel.calls
    assert [(e[2], e[3], e[4]) for e in entries] == [
        (0, 64, _uapi.XFER_MORE), (4, 8, _uapi.XFER_MORE), (0, 3, 0)]
    assert kernel.results[(0, seq)] == (0, 75)
    assert list(sg.sendchannel._pending) == [seq]


def test_a_receive_scatters_too(sg, kernel):
    a, b = fake_buffer(sg.device, 64), fake_buffer(sg.device, 64)
    seq = sg.recvchannel.transfer((a, b))
    assert [e[:1] + e[4:] for e in kernel.calls[0][1]] == [
        (1, _uapi.XFER_MORE), (1, 0)]
    assert sg.recvchannel.wait() == 128 and seq == 1


def test_gather_on_direct_mode_needs_sg(direct, kernel):
    a, b = fake_buffer(direct.device, 64), fake_buffer(direct.device, 64)
    with pytest.raises(pydmak.DmakError, match="scatter-gather") as exc:
        direct.sendchannel.transfer([a, b])
    assert exc.value.errno == errno.EOPNOTSUPP
    direct.sendchannel.transfer([a])            # one piece is no gather
    direct.sendchannel.transfer((a, 0, 16))
    assert kernel.count("SUBMIT") == 2
    assert all(e[4] == 0 for _, entries in kernel.calls for e in entries)


def test_gather_checks_happen_before_anything_queues(sg, kernel):
    a = fake_buffer(sg.device, 64)
    with pytest.raises(ValueError, match="piece 0 .* 6 bytes"):
        sg.sendchannel.transfer([(a, 0, 6), a])
    with pytest.raises(ValueError, match="multiple of 4 bytes"):
        sg.sendchannel.transfer([(a, 2, 8), a])       # an unaligned address
    with pytest.raises(TypeError, match="pydmak.allocate"):
        sg.sendchannel.transfer([a, np.zeros(4)])
    with pytest.raises(ValueError, match="passes the array"):
        sg.sendchannel.transfer([a, (a, 60, 8)])
    assert kernel.calls == []


def test_the_limit_message_fits_the_mode(direct, sg, kernel):
    big = fake_buffer(direct.device, 20000)
    with pytest.raises(ValueError, match="at most 16383 bytes"):
        direct.sendchannel.transfer(big)
    direct.sendchannel.transfer(big, 0, 16383)
    sg.info = DeviceInfo(**{**SG.__dict__, "ring_size": 1,
                            "max_transfer": 16320})
    with pytest.raises(ValueError, match="raise the dmak module parameter "
                                         "ring_size"):
        sg.sendchannel.transfer(fake_buffer(sg.device, 20000))


def test_transfer_many_uses_few_submits(sg, kernel):
    buf = fake_buffer(sg.device, 1 << 16)
    items = [(buf, 64 * i, 64) for i in range(600)]
    seqs = sg.sendchannel.transfer_many(items)
    assert seqs == list(range(1, 601))
    assert [len(d) for n, d in kernel.calls] == [256, 256, 88]
    assert list(sg.sendchannel._pending) == seqs


def test_transfer_many_keeps_gathers_whole(sg, kernel):
    buf = fake_buffer(sg.device, 1 << 16)
    items = [(buf, 64 * i, 64) for i in range(250)]
    items.append([(buf, 64 * i, 64) for i in range(10)])
    items += [buf] * 5
    seqs = sg.sendchannel.transfer_many(items)
    assert len(seqs) == 256 and seqs == sorted(set(seqs))
    assert [len(d) for n, d in kernel.calls] == [250, 15]
    assert kernel.results[(0, seqs[250])] == (0, 640)


def test_transfer_many_checks_every_item_first(sg, kernel):
    buf = fake_buffer(sg.device, 4096)
    items = [buf] * 700 + [(buf, 4000, 200)]
    with pytest.raises(ValueError, match="item 700: start 4000"):
        sg.sendchannel.transfer_many(items)
    with pytest.raises(TypeError, match="item 2"):
        sg.sendchannel.transfer_many([buf, buf, 3])
    with pytest.raises(TypeError, match="transfer\\(\\)"):
        sg.sendchannel.transfer_many(buf)
    with pytest.raises(TypeError, match="transfer\\(\\)"):
        sg.sendchannel.transfer_many((buf, 0, 64))
    assert kernel.calls == []
    assert sg.sendchannel.transfer_many([]) == []
    assert sg.sendchannel.transfer_many((buf,)) == [1]


def test_transfer_many_of_more_than_a_channel_holds(sg, kernel):
    buf = fake_buffer(sg.device, 4096)
    with pytest.raises(ValueError, match="1025 transfers are more than a "
                                         "channel holds outstanding"):
        sg.sendchannel.transfer_many([(buf, 0, 64)] * 1025)
    assert kernel.calls == []


def test_transfer_many_refused_midway_says_what_was_queued(sg, kernel):
    """The kernel's EAGAIN (the channel holds results for no more) on the
    third request: the first two requests' transfers stay queued, and the
    error says which."""
    buf = fake_buffer(sg.device, 4096)
    submit = kernel.submit

    def full_on_the_third(arg):
        if kernel.count("SUBMIT") == 2:
            raise OSError(errno.EAGAIN, "full")
        return submit(arg)
    kernel.submit = full_on_the_third
    with pytest.raises(pydmak.DmakError) as exc:
        sg.sendchannel.transfer_many([(buf, 0, 64)] * 600)
    assert exc.value.errno == errno.EAGAIN
    assert exc.value.queued == list(range(1, 513))
    assert str(exc.value).endswith(
        "span at most 1024 from its oldest outstanding one (so that each "
        "one's result is kept for wait()): wait() for the oldest, then "
        "queue more; nothing of this request was queued (items 0 to 511 "
        "were queued before: wait() collects them; their seqs are in this "
        "error's .queued)")
    assert list(sg.sendchannel._pending) == list(range(1, 513))


def test_transfer_many_on_direct_mode(direct, kernel):
    buf = fake_buffer(direct.device, 4096)
    assert direct.recvchannel.transfer_many([buf, (buf, 0, 8)]) == [1, 2]
    with pytest.raises(pydmak.DmakError) as exc:
        direct.recvchannel.transfer_many([buf, [buf, buf]])
    assert exc.value.errno == errno.EOPNOTSUPP
    assert kernel.count("SUBMIT") == 1


def test_wait_asks_only_for_the_newest(sg, kernel):
    buf = fake_buffer(sg.device, 1 << 16)
    sg.sendchannel.transfer_many([(buf, 0, 64 + 4 * i) for i in range(600)])
    kernel.calls.clear()
    assert sg.sendchannel.wait(5) == 64 + 4 * 599
    assert kernel.calls == [("WAIT", (0, 600))]
    assert sg.sendchannel.transferred == 64 + 4 * 599
    assert not sg.sendchannel._pending
    assert sg.sendchannel.wait() == 64 + 4 * 599          # nothing queued
    assert kernel.count("WAIT") == 1


def test_wait_after_a_failure_reports_the_first(sg, kernel):
    buf = fake_buffer(sg.device, 4096)
    kernel.fail = {(0, 3): _uapi.ST_DMA_DEC_ERR, (0, 4): _uapi.ST_ABORTED,
                   (0, 5): _uapi.ST_ABORTED}
    sg.sendchannel.transfer_many([buf] * 5)
    kernel.calls.clear()
    with pytest.raises(pydmak.DMAError, match="DMADecErr") as exc:
        sg.sendchannel.wait(5)
    assert exc.value.status == _uapi.ST_DMA_DEC_ERR
    assert exc.value.channel == "MM2S"
    assert [d for _, d in kernel.calls] == [(0, 5), (0, 1), (0, 2), (0, 3),
                                            (0, 4)]
    assert not sg.sendchannel._pending
    assert sg.sendchannel.transferred == 0


def test_wait_skips_results_no_longer_kept(sg, kernel):
    buf = fake_buffer(sg.device, 4096)
    kernel.fail = {(1, 3): _uapi.ST_ABORTED}
    sg.recvchannel.transfer_many([buf] * 3)
    kernel.gone = {(1, 1)}
    with pytest.raises(pydmak.DMAError, match="not run"):
        sg.recvchannel.wait()
    assert not sg.recvchannel._pending


def test_wait_when_even_the_newest_result_is_gone(sg, kernel):
    buf = fake_buffer(sg.device, 4096)
    sg.sendchannel.transfer_many([buf] * 2)
    kernel.gone = {(0, 2)}
    with pytest.raises(pydmak.DmakError, match="no longer kept") as exc:
        sg.sendchannel.wait(1)
    assert exc.value.errno == errno.ENOENT
    assert not sg.sendchannel._pending       # not stuck on it forever
    assert sg.sendchannel.wait(1) == 0


def test_wait_timeout_keeps_everything_queued(sg, kernel):
    buf = fake_buffer(sg.device, 4096)
    seqs = sg.sendchannel.transfer_many([buf] * 3)
    kernel.unfinished = {(0, 3)}
    with pytest.raises(pydmak.DMATimeoutError, match="stays queued"):
        sg.sendchannel.wait(0)
    assert list(sg.sendchannel._pending) == seqs
    kernel.unfinished = set()
    kernel.eintr = 2                       # signals: the wait goes on
    assert sg.sendchannel.wait(5) == 4096
    assert kernel.count("WAIT") == 4


def test_loopback_is_one_request(sg, kernel):
    a, b, c = (fake_buffer(sg.device, 256) for _ in range(3))
    sg.loopback([a, (b, 0, 16)], c)
    (name, entries), = kernel.calls
    assert [(e[0], e[3], e[4]) for e in entries] == [
        (0, 256, _uapi.XFER_MORE), (0, 16, 0), (1, 256, 0)]
    assert sg.sendchannel.wait() == 272 and sg.recvchannel.wait() == 256


def test_coalesce_sets_and_reads_back(sg, kernel):
    ch = sg.recvchannel
    ch.coalesce(16, delay_us=100)
    assert kernel.coalescing[1] == (16, 80)
    assert ch.coalescing == (16, 100.0)
    ch.coalesce(1)
    assert ch.coalescing == (1, 0.0)
    assert ch.interrupts == 9 and sg.sendchannel.interrupts == 7
    with pytest.raises(ValueError, match="needs a delay"):
        ch.coalesce(8)
    with pytest.raises(ValueError, match="1..255"):
        ch.coalesce(0, 10)
    with pytest.raises(ValueError, match="at most 318.75 µs"):
        ch.coalesce(4, 1000)
    assert kernel.coalescing[1] == (1, 0)


def test_coalesce_error_from_the_kernel_is_explained(sg, kernel):
    def refuse(arg):
        raise OSError(errno.EINVAL, "bad")
    kernel.chan_op = refuse
    with pytest.raises(pydmak.DmakError, match="threshold 4 must be 1..255"
                                               " and delay 8 units"):
        sg.recvchannel.coalesce(4, 10)


def test_coalesce_needs_sg(direct, kernel):
    with pytest.raises(pydmak.DmakError, match="scatter-gather") as exc:
        direct.sendchannel.coalesce(1)
    assert exc.value.errno == errno.EOPNOTSUPP
    assert kernel.calls == []


def test_repr_says_the_mode(sg, direct):
    assert "sg ring_size=256" in repr(sg)
    assert "direct" in repr(direct)
    assert sg.buffer_max_size == 16320 * 256


def test_submit_errors_are_explained(sg, kernel):
    def refuse(arg):
        raise OSError(errno.EMSGSIZE, "too long")
    kernel.submit = refuse
    with pytest.raises(pydmak.DmakError, match="16320 bytes per descriptor"
                                               " x 256 descriptors"):
        sg.sendchannel.transfer(fake_buffer(sg.device, 64))

    def unsupported(arg):
        raise OSError(errno.EOPNOTSUPP, "no")
    kernel.submit = unsupported
    with pytest.raises(pydmak.DmakError, match="gathering several pieces"):
        sg.sendchannel.transfer(fake_buffer(sg.device, 64))


def test_new_abi_fields_exist():
    assert ctypes.sizeof(_uapi.dmak_chan_op) == 64
    assert ctypes.sizeof(_uapi.dmak_info) == 80
    assert _uapi.dmak_info.desc_max.offset == 48
