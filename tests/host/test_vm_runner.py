"""tests/vm/run itself: exit status, splat detection, the time limit."""

import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]
RUN = str(REPO / "tests" / "vm" / "run")


def _run(*args, timeout=300):
    return subprocess.run([RUN, *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_status_and_output_come_back_and_a_splat_fails_the_run(tmp_path):
    # One boot: CMD prints, checks the modules are loaded, then fakes a
    # kernel warning and exits 0; the runner must still fail. --dmesg
    # keeps the guest's kernel log, the warning in it.
    script = ("test -c /dev/dmak0 && grep -qw dmak_sim /proc/modules && "
              "echo guest-says-hi && echo 'WARNING: CPU: 0 PID: 1 at fake' "
              "> /dev/kmsg")
    log = tmp_path / "guest.dmesg"
    res = _run("--dmesg", str(log), "sh", "-c", script)
    assert "guest-says-hi" in res.stdout
    assert res.returncode != 0
    assert "kernel splat" in res.stderr
    assert "WARNING: CPU: 0 PID: 1 at fake" in res.stderr
    text = log.read_text()
    assert "Linux version" in text
    assert "WARNING: CPU: 0 PID: 1 at fake" in text
    assert not list(REPO.glob(".vm-dmesg.*"))


def test_a_kdir_that_is_no_kernel_tree_is_refused(tmp_path):
    ver = subprocess.run([str(REPO / "scripts" / "guest-kernel")],
                         capture_output=True, text=True,
                         check=True).stdout.strip()
    res = _run("--kernel", f"/boot/vmlinuz-{ver}", "--kdir", str(tmp_path),
               "true")
    assert res.returncode == 1
    assert f"no kernel build tree in {tmp_path}" in res.stderr


def test_a_guest_that_never_finishes_is_killed():
    res = _run("--timeout", "30", "sleep", "600")
    assert res.returncode == 124
    assert "did not finish within 30s" in res.stderr
