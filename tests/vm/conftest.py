"""VM tier: runs inside QEMU with dmak_sim.ko and dmak.ko loaded.

Start it with ``tests/vm/run .venv/bin/python -m pytest tests/vm``. Run
anywhere else, it stops with an error instead of skipping.
"""

import gc
import os
import pathlib
import subprocess
import time

import pytest

import pydmak
from pydmak import device as _device

REPO = pathlib.Path(__file__).resolve().parents[2]
SYSFS = pathlib.Path("/sys/class/dmak")
NOBODY = 65534


def pytest_configure(config):
    if os.environ.get("DMAK_VM") != "1":
        raise pytest.UsageError(
            "tests/vm runs inside the QEMU guest: use "
            "'tests/vm/run .venv/bin/python -m pytest tests/vm' "
            "(or 'make test')")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Once a failure is reported, its finished frames let go of their
    locals (and of the snapshots the report took of them): the buffers a
    failed test held are freed, so the checks that every buffer came back,
    and the module reloads after, see only real leaks."""
    yield
    tb = call.excinfo.tb if call.excinfo is not None else None
    while tb is not None:
        frame = tb.tb_frame
        try:
            snapshot = frame.f_locals
            frame.clear()           # RuntimeError while still executing
        except RuntimeError:
            pass
        else:
            snapshot.clear()
        tb = tb.tb_next


def receive_range(dst, nbytes):
    """``(dst, 0, n)`` to receive a packet of ``nbytes`` at the start of
    ``dst``: ``n`` is ``nbytes``, or the whole buffer where the device does
    not snoop the CPU caches and ``dst`` is cached (there a range must end
    on a cache line or with its buffer), and the packet ends short of it."""
    if dst.cacheable and dst.device.cache_alignment > 1:
        return dst, 0, dst.nbytes
    return dst, 0, nbytes


def as_nobody(fn):
    """Runs ``fn()`` in a forked child that dropped root (and with it every
    capability) for user nobody; returns the errno it raised, 0 if none.
    Descriptors opened before are inherited."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                        # the child: never returns
        code = 255
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                fn()
                code = 0
            except OSError as exc:
                code = exc.errno
            os.write(w, str(code).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        text = f.read()
    os.waitpid(pid, 0)
    assert text, "the child died before it answered"
    return int(text)


def sysfs_attr(name, index=0):
    """A sysfs attribute of /dev/dmakN, as text."""
    return (SYSFS / f"dmak{index}" / name).read_text().strip()


def live_buffers(index=0):
    """(count, bytes) of buffer memory the driver holds for dmakN."""
    count, nbytes = sysfs_attr("buffers", index).split()
    return int(count), int(nbytes)


def meminfo(field):
    """A field of /proc/meminfo in bytes; 0 if the kernel has none such
    (CmaFree without CMA)."""
    for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def mem_available():
    """MemAvailable of /proc/meminfo, in bytes."""
    return meminfo("MemAvailable")


def sh(*cmd, check=True):
    """Runs a command; returns the CompletedProcess."""
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def close_default_device():
    if _device._default is not None:
        _device._default.close()


def load_modules(sim_args=(), dmak_args=()):
    """(Re)loads dmak_sim.ko with ``sim_args`` and dmak.ko with
    ``dmak_args`` (module parameters, e.g. ``["ring_size=4"]``)."""
    close_default_device()
    gc.collect()
    for mod in ("dmak", "dmak_sim"):
        if pathlib.Path(f"/sys/module/{mod}").exists():
            sh("rmmod", mod)
    sh("insmod", str(REPO / "kmod" / "dmak_sim.ko"), *sim_args)
    sh("insmod", str(REPO / "kmod" / "dmak.ko"), *dmak_args)


@pytest.fixture
def dev():
    """A fresh open file of /dev/dmak0."""
    with pydmak.Device(0) as d:
        yield d


def wait_for(predicate, timeout=5.0):
    """Polls ``predicate`` until true or ``timeout`` s; returns its value."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


@pytest.fixture(autouse=True)
def no_leaked_buffers():
    """Every test gives back all the buffer memory it took."""
    yield
    if (SYSFS / "dmak0").exists():
        assert_buffers_returned(0)


SIM_DEBUGFS = pathlib.Path("/sys/kernel/debug/dmak-sim")


def sim_fault(text, index=0):
    """Arms a fault of simulator instance ``index``, e.g. "mm2s decerr",
    "mm2s sg-decerr", or "clear"."""
    (SIM_DEBUGFS / str(index) / "fault").write_text(text)


def sim_set(name, value, index=0):
    """Sets a knob of simulator instance ``index``: bandwidth, fifo_depth."""
    (SIM_DEBUGFS / str(index) / name).write_text(str(value))


def with_modules(sim_args, dmak_args=()):
    """The body of a module-scoped fixture: the modules loaded with these
    arguments for the module's tests, the default load again after."""
    load_modules(sim_args, dmak_args)
    yield
    gc.collect()
    load_modules()


@pytest.fixture(scope="module")
def direct_and_sg():
    """For a module's tests: dmak0 a direct-mode IP and dmak1 an SG one
    (``instances=2 sg=0,1``); the default load again afterwards."""
    yield from with_modules(["instances=2", "sg=0,1"])


@pytest.fixture
def sg_buffers_returned(direct_and_sg):
    """The SG instance, dmak1, gets back all the buffer memory a test
    took."""
    yield
    assert_buffers_returned(1)


def assert_buffers_returned(*indices):
    """Every instance of ``indices`` got back all its buffer memory. Ended
    transfers drop their buffers from a work item: this allows for it."""
    gc.collect()
    for index in indices:
        wait_for(lambda i=index: live_buffers(i) == (0, 0))
        assert live_buffers(index) == (0, 0), f"dmak{index}"


@pytest.fixture
def dma(dev):
    """A DMA over a fresh open file; faults and knobs reset afterwards."""
    d = pydmak.DMA(dev)
    yield d
    # A channel halted on an error stays so for every user: reset it.
    if d.sendchannel.error or d.recvchannel.error:
        d.sendchannel.reset()
    sim_fault("clear")
    sim_set("bandwidth", 0)
    sim_set("fifo_depth", 65536)
    d.close()
