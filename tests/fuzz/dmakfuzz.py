"""A structured fuzzer of /dev/dmak0 and /dev/dmak1.

It runs in the VM guest, as root, on ``dmak_sim.ko instances=2 sg=0,1``
(dmak0 a direct-mode IP, dmak1 an SG one)::

    tests/vm/run --sim-args 'instances=2 sg=0,1' \\
        .venv/bin/python tests/fuzz/dmakfuzz.py --seed 1234 --procs 4

(``make fuzz`` runs it through pytest, tests/fuzz/test_fuzz.py). Several
processes (``worker.py``; every other one as a user of its own, without
CAP_SYS_RAWIO) each make ``--calls`` random calls on both devices, and
every errno must be one that docs/driver.md lists for the call
(``contract.py``). Meanwhile the runner kills ``--kills`` of them with
SIGKILL mid-run (each is replaced by a new one that makes the calls it
had left) and takes a process that reports no progress for ``--stall``
seconds (STARTUP_S before its first calls) for hung: its kernel stack
goes in the report and it is killed.
Once they are all gone, ``checks.py`` requires the buffers back to
``0 0``, no transfer queued, a loopback through both devices with every
byte compared, ``rmmod dmak dmak_sim`` to work (the modules are loaded
again after it) and no kernel splat in dmesg.

The seed is printed; ``--seed`` replays a run's calls (each process's
calls follow from the seed and its number, though how the processes
interleave does not), ``--procs 1 --kills 0`` one process alone, and
``python tests/fuzz/worker.py WID SEED CALLS`` process WID of a run by
itself (the problem reports name the WID).
Reports go to ``--reports`` (default /tmp/fuzz-reports): summary.json,
problems.jsonl, dmesg.txt and the stderr of each process.
"""

import argparse
import collections
import dataclasses
import json
import os
import pathlib
import random
import selectors
import signal
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO) not in sys.path:           # the tree's pydmak, as run as a
    sys.path.insert(0, str(REPO))       # script from anywhere

import checks  # noqa: E402

DEVICES = (0, 1)
STARTUP_S = 600         # a worker's time to its first calls


@dataclasses.dataclass
class Config:
    """What a run does; see the module's docstring."""

    seed: int = 0
    procs: int = 4
    calls: int = 10000
    kills: int = 2
    stall: float = 90.0
    reports: str = "/tmp/fuzz-reports"
    unprivileged: bool = True

    @classmethod
    def from_env(cls, env=os.environ):
        """Defaults, overridden by DMAK_FUZZ_SEED, _PROCS, _CALLS, _KILLS,
        _STALL and _REPORTS; a new random seed without DMAK_FUZZ_SEED."""
        cfg = cls(seed=int(env.get("DMAK_FUZZ_SEED", 0)) or new_seed())
        for name in ("procs", "calls", "kills"):
            value = env.get(f"DMAK_FUZZ_{name.upper()}")
            if value:
                setattr(cfg, name, int(value))
        cfg.stall = float(env.get("DMAK_FUZZ_STALL", cfg.stall))
        cfg.reports = env.get("DMAK_FUZZ_REPORTS", cfg.reports)
        return cfg


def new_seed():
    return int.from_bytes(os.urandom(4), "little") or 1


class Proc:
    """A fuzzing process as the runner sees it."""

    def __init__(self, wid, calls, cfg):
        self.wid = wid
        self.calls = calls
        self.privileged = not (cfg.unprivileged and wid % 2)
        self.stderr = open(pathlib.Path(cfg.reports) / f"worker-{wid}.stderr",
                           "w")
        cmd = [sys.executable, str(HERE / "worker.py"), str(wid),
               str(cfg.seed), str(calls)]
        if not self.privileged:
            cmd.append("--unprivileged")
        elif cfg.procs > 1:
            cmd.append("--shares-user")
        self.popen = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE,
                                      stderr=self.stderr)
        self.progress = 0
        self.heard = time.monotonic()
        self.done = None
        self.killed = False
        self.problems = collections.Counter()
        self.buffer = b""


class Runner:
    """Starts the processes, watches them, kills some, collects what they
    report."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.procs = []
        self.slots = []             # the process now in each slot
        self.problems = []          # dicts, as the processes sent them
        self.runner_problems = []   # strings
        self.next_wid = 0
        self.sel = selectors.DefaultSelector()
        self.start = time.monotonic()
        self.events = open(pathlib.Path(cfg.reports) / "events.log", "w")
        # (process slot, fraction of its calls at which it is killed)
        self.kills = sorted((self.rng.randrange(cfg.procs),
                             self.rng.uniform(0.2, 0.8))
                            for _ in range(cfg.kills))

    def log(self, text):
        """A line of events.log, stamped with the seconds since the
        start."""
        self.events.write(f"{time.monotonic() - self.start:8.1f} {text}\n")
        self.events.flush()

    def spawn(self, calls, slot=None):
        proc = Proc(self.next_wid, calls, self.cfg)
        self.log(f"worker {proc.wid} started, pid {proc.popen.pid}, "
                 f"{calls} calls, "
                 f"{'root' if proc.privileged else 'a user of its own'}")
        self.next_wid += 1
        self.procs.append(proc)
        if slot is None:
            self.slots.append(proc)
        else:
            self.slots[slot] = proc
        self.sel.register(proc.popen.stdout, selectors.EVENT_READ, proc)
        return proc

    def handle(self, proc, line):
        msg = json.loads(line)
        proc.heard = time.monotonic()
        if msg["t"] == "progress":
            if not proc.progress:
                self.log(f"worker {proc.wid} made its first calls")
            proc.progress = msg["calls"]
        elif msg["t"] == "problem":
            self.problems.append(msg)
            proc.problems[(msg["kind"], msg["call"], msg["errno"])] += 1
        elif msg["t"] == "crash":
            self.runner_problems.append(
                f"worker {proc.wid} (a forked child) raised:\n{msg['trace']}")
        elif msg["t"] == "done":
            self.log(f"worker {proc.wid} done: {msg['calls']} calls in "
                     f"{msg['elapsed']:.1f} s")
            proc.done = msg
            proc.progress = msg["calls"]
            proc.problems = collections.Counter(
                {tuple(k): n for *k, n in msg["problems"]})

    def read(self, proc):
        data = os.read(proc.popen.stdout.fileno(), 65536)
        if not data:
            self.log(f"worker {proc.wid} closed its output")
            self.sel.unregister(proc.popen.stdout)
            return False
        proc.buffer += data
        *lines, proc.buffer = proc.buffer.split(b"\n")
        for line in lines:
            self.handle(proc, line)
        return True

    def stack_of(self, proc):
        """The kernel stacks of every thread of a process and of its
        children, as text."""
        out = []
        for pid in [proc.popen.pid] + children(proc.popen.pid):
            for task in sorted(pathlib.Path(f"/proc/{pid}/task").glob("*")):
                out.append(f"pid {pid} thread {task.name} "
                           f"({read_text(task / 'comm').strip()}, state "
                           f"{proc_state(task)}, wchan "
                           f"{read_text(task / 'wchan')}):\n"
                           f"{read_text(task / 'stack')}")
        return "\n".join(out)

    def kill(self, proc, why):
        """SIGKILL; a process that does not die within 30 s is stuck in
        the kernel: a problem."""
        proc.killed = why
        self.log(f"worker {proc.wid} killed ({why}) after "
                 f"{proc.progress} calls")
        stack = self.stack_of(proc)
        for pid in children(proc.popen.pid) + [proc.popen.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            proc.popen.wait(30)
        except subprocess.TimeoutExpired:
            self.runner_problems.append(
                f"hang: worker {proc.wid} did not die within 30 s of "
                f"SIGKILL ({why}):\n{self.stack_of(proc)}")
        return stack

    def watch(self, proc, now):
        """Kills a process due to be killed or that stalled."""
        if proc.popen.poll() is not None or proc.killed:
            return
        # Starting (Python and numpy imported over the guest's 9p, on a
        # debug kernel, on a busy host) may take minutes; a call, never.
        limit = self.cfg.stall if proc.progress else max(self.cfg.stall,
                                                          STARTUP_S)
        if now - proc.heard > limit:
            stack = self.kill(proc, "stalled")
            self.runner_problems.append(
                f"hang: worker {proc.wid} made no progress for "
                f"{limit:.0f} s after {proc.progress} calls; "
                f"kernel stacks:\n{stack}")
            return
        if proc not in self.slots:
            return
        slot = self.slots.index(proc)
        for i, (victim, fraction) in enumerate(self.kills):
            if victim == slot and proc.progress >= fraction * proc.calls:
                del self.kills[i]
                self.kill(proc, "SIGKILL mid-run")
                self.spawn(max(1, proc.calls - proc.progress), slot)
                return

    def run(self):
        for _ in range(self.cfg.procs):
            self.spawn(self.cfg.calls)
        while self.sel.get_map() or \
                any(p.popen.poll() is None for p in self.procs):
            for key, _ in self.sel.select(timeout=1.0):
                self.read(key.data)
            now = time.monotonic()
            for proc in list(self.procs):
                self.watch(proc, now)
        self.log("all workers gone")
        self.events.close()
        for proc in self.procs:
            proc.popen.wait()
            proc.stderr.close()
            status = proc.popen.returncode
            if not proc.killed and (status or proc.done is None):
                self.runner_problems.append(
                    f"worker {proc.wid} exited with status {status} "
                    f"without finishing; see worker-{proc.wid}.stderr:\n"
                    + read_text(proc.stderr.name)[-3000:])


def run(cfg):
    """Fuzzes, checks the devices afterwards; returns the summary (a dict,
    also written to summary.json). ``summary["problems"]`` is empty when
    all went well."""
    reports = pathlib.Path(cfg.reports)
    reports.mkdir(parents=True, exist_ok=True)
    print(f"dmakfuzz: seed {cfg.seed}, {cfg.procs} processes x "
          f"{cfg.calls} calls, {cfg.kills} killed mid-run; reports in "
          f"{reports}", flush=True)
    nodes = [pathlib.Path(f"/dev/dmak{i}") for i in DEVICES]
    modes = [node.stat().st_mode for node in nodes]
    for node in nodes:
        node.chmod(0o666)           # for the processes that are not root
    dmesg_before = len(checks.dmesg().splitlines())
    start = time.monotonic()
    runner = Runner(cfg)
    try:
        runner.run()
    finally:
        for node, mode in zip(nodes, modes):
            node.chmod(mode & 0o7777)
    wall = time.monotonic() - start

    problems = list(runner.runner_problems)
    problems += checks.wait_buffers_returned(DEVICES)
    for index in DEVICES:
        problems += checks.recover(index)
    for index in DEVICES:
        problems += checks.loopback(index, seed=cfg.seed)
    problems += checks.wait_buffers_returned(DEVICES)
    problems += checks.reload(REPO)
    text = checks.dmesg()
    (reports / "dmesg.txt").write_text(text)
    splat = checks.splats("\n".join(text.splitlines()[dmesg_before:]))
    if splat:
        problems.append("kernel splat in dmesg (dmesg.txt):\n" +
                        "\n".join(splat[:20]))
    summary = summarize(cfg, runner, wall, problems)
    (reports / "summary.json").write_text(json.dumps(summary, indent=1))
    with open(reports / "problems.jsonl", "w") as out:
        for msg in runner.problems:
            out.write(json.dumps(msg) + "\n")
    print(report_text(summary), flush=True)
    return summary


def summarize(cfg, runner, wall, problems):
    counts = collections.Counter()
    for proc in runner.procs:
        counts.update(proc.problems)
    examples = {}
    for msg in runner.problems:
        examples.setdefault((msg["kind"], msg["call"], msg["errno"]), msg)
    for key, n in sorted(counts.items()):
        ex = examples.get(key, {})
        problems.append(f"{key[0]}: {key[1]} -> {key[2]} ({n}x); e.g. "
                        f"worker {ex.get('wid')}: {json.dumps(ex.get('args'))}"
                        f" {ex.get('note', '')}")
    stats = collections.Counter()
    rates = []
    for proc in runner.procs:
        if proc.done:
            stats.update(proc.done["stats"])
            rates.append(proc.done["calls"] / proc.done["elapsed"])
    return {
        "seed": cfg.seed,
        "config": dataclasses.asdict(cfg),
        "processes": len(runner.procs),
        "calls": sum(p.progress for p in runner.procs),
        "wall_s": round(wall, 1),
        "calls_per_s_per_process": round(statistics.mean(rates), 1)
        if rates else 0,
        "killed": [p.wid for p in runner.procs if p.killed],
        "results": dict(sorted(stats.items())),
        "problems": problems,
    }


def report_text(summary):
    lines = [f"dmakfuzz: seed {summary['seed']}: {summary['calls']} calls "
             f"by {summary['processes']} processes in {summary['wall_s']} s, "
             f"{summary['calls_per_s_per_process']} calls/s per process; "
             f"killed {summary['killed']}"]
    lines += [f"  problem: {p}" for p in summary["problems"]]
    lines.append(f"dmakfuzz: {len(summary['problems'])} problems")
    return "\n".join(lines)


def children(pid):
    """The pids whose parent is ``pid``."""
    out = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = read_text(entry / "stat")
            fields = stat.rsplit(")", 1)[-1].split()
            if len(fields) > 1 and fields[1] == str(pid):
                out.append(int(entry.name))
    return out


def proc_state(task):
    fields = read_text(pathlib.Path(task, "stat")).rsplit(")", 1)[-1].split()
    return fields[0] if fields else "?"


def read_text(path):
    try:
        return pathlib.Path(path).read_text()
    except OSError as exc:
        return f"({exc.strerror})"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Structured fuzzer of /dev/dmak0 and /dev/dmak1 (in "
        "the VM guest, dmak_sim.ko instances=2 sg=0,1)")
    parser.add_argument("--seed", type=int, default=0,
                        help="replay this seed (default: a new one)")
    parser.add_argument("--procs", type=int, default=Config.procs)
    parser.add_argument("--calls", type=int, default=Config.calls,
                        help="calls per process")
    parser.add_argument("--kills", type=int, default=Config.kills,
                        help="processes killed with SIGKILL mid-run")
    parser.add_argument("--stall", type=float, default=Config.stall,
                        help="seconds without progress taken for a hang")
    parser.add_argument("--reports", default=Config.reports)
    parser.add_argument("--all-root", action="store_true",
                        help="every process runs as root")
    args = parser.parse_args(argv)
    cfg = Config(seed=args.seed or new_seed(), procs=args.procs,
                 calls=args.calls, kills=args.kills, stall=args.stall,
                 reports=args.reports, unprivileged=not args.all_root)
    return 1 if run(cfg)["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
