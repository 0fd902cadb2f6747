"""The package as built and installed: ``python -m build`` makes an sdist
and a wheel; the wheel holds py.typed, the uapi header, VERSION and the
console script; installed into a fresh venv, ``pydmak`` runs and the ABI
check passes against the installed package."""

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
VERSION = (REPO / "VERSION").read_text().strip()
HEADER = (REPO / "kmod" / "include" / "uapi" / "dmak.h").read_bytes()
WHEEL = f"pydmak-{VERSION}-py3-none-any.whl"
SDIST = f"pydmak-{VERSION}.tar.gz"


def _run(cmd, **kw):
    res = subprocess.run([str(c) for c in cmd], capture_output=True,
                         text=True, **kw)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """sdist and wheel of a copy of the working tree, built offline with
    .venv's setuptools (python -m build --no-isolation)."""
    tmp = tmp_path_factory.mktemp("pkg")
    src = tmp / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "build", "dist", "*.egg-info",
        ".pytest_cache", "*.o", "*.ko", "*.mod*", ".*.cmd"))
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
          tmp / "dist", src])
    assert sorted(os.listdir(tmp / "dist")) == sorted([SDIST, WHEEL])
    return tmp / "dist"


def test_wheel_contents(dist):
    with zipfile.ZipFile(dist / WHEEL) as whl:
        names = set(whl.namelist())
        for name in ("pydmak/__init__.py", "pydmak/__main__.py",
                     "pydmak/cli/__init__.py", "pydmak/cli/info.py",
                     "pydmak/py.typed", "pydmak/VERSION",
                     "pydmak/include/dmak.h"):
            assert name in names, name
        assert whl.read("pydmak/include/dmak.h") == HEADER
        assert whl.read("pydmak/VERSION").decode().strip() == VERSION
        meta = f"pydmak-{VERSION}.dist-info"
        entry = whl.read(f"{meta}/entry_points.txt").decode()
        assert "[console_scripts]" in entry
        assert "pydmak = pydmak.cli:main" in entry
        metadata = whl.read(f"{meta}/METADATA").decode()
        assert f"\nVersion: {VERSION}\n" in metadata
        assert "\nRequires-Dist: numpy" in metadata
    assert not any(n.startswith(("tests/", "kmod/")) for n in names)


def test_sdist_carries_the_files_not_links(dist):
    with tarfile.open(dist / SDIST) as tar:
        top = f"pydmak-{VERSION}"
        for name in ("VERSION", "pydmak/VERSION", "pydmak/include/dmak.h",
                     "pydmak/py.typed"):
            member = tar.getmember(f"{top}/{name}")
            assert member.isfile(), name
        assert tar.extractfile(
            f"{top}/pydmak/include/dmak.h").read() == HEADER


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory):
    """A fresh venv with the wheel installed by pip (no index). numpy and
    pytest come from .venv through a .pth line added afterwards: its
    editable pydmak is not importable that way (.pth files of a path
    added like this are not read)."""
    env = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", env])
    py = env / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", py, "install", "-q",
          "--no-index", "--no-deps", "--disable-pip-version-check",
          dist / WHEEL])
    site = pathlib.Path(_run([py, "-c", "import sysconfig; print("
                              "sysconfig.get_paths()['purelib'])"])
                        .stdout.strip())
    (site / "zz_dev_tools.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    return env


def test_installed_package_is_the_wheel(venv):
    out = _run([venv / "bin" / "python", "-c",
                "import importlib.metadata as m, pydmak; "
                "print(pydmak.__file__); print(pydmak.__version__); "
                "print(m.version('pydmak')); print(pydmak.include_dir())"],
               cwd=venv).stdout.split()
    assert out[0].startswith(str(venv)), out
    assert out[1] == out[2] == VERSION
    assert (pathlib.Path(out[3]) / "dmak.h").read_bytes() == HEADER


def test_console_script(venv):
    script = venv / "bin" / "pydmak"
    assert script.is_file()
    res = _run([script, "--help"], cwd=venv)
    assert res.stdout.startswith("usage: pydmak")
    res = subprocess.run([script, "info"], capture_output=True, text=True,
                         cwd=venv)
    assert res.returncode == 1 and "no dmak device" in res.stderr
    res = _run([venv / "bin" / "python", "-m", "pydmak", "--version"],
               cwd=venv)
    assert res.stdout.strip() == f"pydmak {VERSION}"


def test_abi_check_from_the_installed_package(venv):
    """tests/host/test_abi.py, run by the venv's python: it compiles
    against the installed pydmak's header and checks its mirror."""
    res = _run([venv / "bin" / "python", "-m", "pytest", "-q",
                "-p", "no:cacheprovider",
                REPO / "tests" / "host" / "test_abi.py"], cwd=venv)
    assert " passed" in res.stdout and "failed" not in res.stdout
    probe = _run([venv / "bin" / "python", "-c",
                  "import sys; sys.path.insert(0, sys.argv[1]); "
                  "import test_abi; print(test_abi.INCLUDE)",
                  REPO / "tests" / "host"], cwd=venv).stdout.strip()
    assert probe.startswith(str(venv)), probe
