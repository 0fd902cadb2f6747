"""pyflakes finds no unused names, undefined names or shadowed locals."""

import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_pyflakes_is_clean():
    res = subprocess.run(
        [sys.executable, "-m", "pyflakes", "pydmak", "tests", "bench"],
        cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
