"""One version: VERSION, read by the package metadata, pydmak.__version__,
dkms.conf and the modules (tests/host/test_kmod_build.py checks those)."""

import importlib.metadata
import pathlib
import re
import subprocess
import sys

import pydmak

REPO = pathlib.Path(__file__).resolve().parents[2]
VERSION = (REPO / "VERSION").read_text().strip()


def test_version_file_is_one_plain_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+([a-z]+\d+)?", VERSION), VERSION
    assert (REPO / "VERSION").read_text() == VERSION + "\n"


def test_package_version_is_the_version_file():
    assert pydmak.__version__ == VERSION


def test_installed_metadata_has_the_version():
    # The editable install of .venv; 'make deps' refreshes it when VERSION
    # or pyproject.toml change.
    assert importlib.metadata.version("pydmak") == VERSION


def test_pyproject_takes_the_version_from_the_file():
    if sys.version_info >= (3, 11):
        import tomllib
    else:                                           # pragma: no cover
        import tomli as tomllib
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    dynamic = project["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"file": "VERSION"}


def test_dkms_conf_reads_the_version_file(tmp_path):
    """dkms sources dkms.conf with bash, from whatever directory."""
    res = subprocess.run(
        ["bash", "-c", f'. "{REPO}/dkms.conf"; echo "$PACKAGE_VERSION"'],
        cwd=tmp_path, check=True, capture_output=True, text=True)
    assert res.stdout.strip() == VERSION


def test_cli_reports_the_version():
    res = subprocess.run([sys.executable, "-m", "pydmak", "--version"],
                         capture_output=True, text=True)
    assert res.returncode == 0
    assert res.stdout.strip() == f"pydmak {VERSION}"
