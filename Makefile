# pydmak developer targets. Each target installs what it needs first
# (scripts/setup-deps: Debian packages and the .venv), so on a fresh Debian
# machine 'make demo' and 'make test' are all it takes.

PY := .venv/bin/python
KVER = $(shell scripts/guest-kernel)
KDIR = /lib/modules/$(KVER)/build

.PHONY: all deps build test test-host test-vm test-debug fuzz demo bench \
	dkms-check \
	dkms-install dkms-remove clean

all: build

deps:
	@scripts/setup-deps

build: deps
	$(MAKE) -C kmod KDIR=$(KDIR)

# All tests: host tier, DKMS build, then the VM tier (QEMU).
test: deps
	@scripts/run-tests

test-host: deps
	$(PY) -m pytest tests/host

# test_devicetree.py needs a device tree: the arm64 guest's.
test-vm: deps
	tests/vm/run $(PY) -m pytest tests/vm --ignore=tests/vm/test_devicetree.py

# The fuzzer of /dev/dmakN (tests/fuzz), in the VM; DMAK_FUZZ_SEED, _PROCS,
# _CALLS, _KILLS, _STALL and _REPORTS pass through to it.
FUZZ_ENV = $(foreach v,SEED PROCS CALLS KILLS STALL REPORTS,\
	$(if $(DMAK_FUZZ_$(v)),DMAK_FUZZ_$(v)=$(DMAK_FUZZ_$(v))))
fuzz: deps
	tests/vm/run --timeout $${DMAK_FUZZ_TIMEOUT:-3600} \
		--sim-args "instances=2 sg=0,1" env $(FUZZ_ENV) \
		$(PY) -m pytest tests/fuzz -q -p no:cacheprovider

# The VM tier and the fuzzer on a debug kernel: Debian's 6.1 source with
# KASAN, lockdep, DMA-API debugging and kmemleak (scripts/debug-kernel:
# built once, about 16 minutes, then cached); see scripts/test-debug.
test-debug: deps
	@scripts/test-debug

# The demo, in the VM: buffers and loopbacks through two simulated IPs,
# /dev/dmak0 in direct mode and /dev/dmak1 with scatter-gather.
demo: deps
	tests/vm/run --sim-args "instances=2 sg=0,1" $(PY) -m pydmak.demo

bench: deps
	@scripts/run-bench

dkms-check: deps
	scripts/dkms check $(KVER)

# On a board: build and install dmak.ko for the running kernel, and the
# udev rule that gives group dmak /dev/dmak* (scripts/dkms).
dkms-install:
	scripts/dkms install

# The module and the udev rule (the group stays).
dkms-remove:
	scripts/dkms remove

clean:
	-$(MAKE) -C kmod KDIR=$(KDIR) clean
	rm -rf build dist *.egg-info kmod/.kdir
