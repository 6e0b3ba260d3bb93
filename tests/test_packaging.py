"""Packaging without noise (issue #15 points 1, 2, 8): one dependency list, the SPDX licence,
every supported Python declared, no machine-specific paths in the repository."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest

from conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def test_dependencies_are_listed_once_and_pinned():
    names = [_name(r) for r in PYPROJECT["project"]["dependencies"]]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    pinned = {_name(line) for line in (ROOT / "constraints.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    extras = [_name(r) for reqs in PYPROJECT["project"]["optional-dependencies"].values() for r in reqs]
    assert not [n for n in names + extras if n not in pinned]


def test_licence_is_an_spdx_string_with_its_file():
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"
    for pattern in project["license-files"]:
        assert list(ROOT.glob(pattern)), pattern
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")[:200]
    # PEP 639 strings need setuptools 77; an older build backend would print the deprecation box.
    assert any(r.startswith("setuptools>=7") and int(r.split(">=")[1].split(".")[0]) >= 77
               for r in PYPROJECT["build-system"]["requires"])


@pytest.mark.parametrize("minor", [11, 12, 13])
def test_supported_pythons_are_declared(minor):
    from packaging.specifiers import SpecifierSet
    assert f"3.{minor}" in SpecifierSet(PYPROJECT["project"]["requires-python"])


def test_running_python_is_supported():
    from packaging.specifiers import SpecifierSet
    assert "%d.%d" % sys.version_info[:2] in SpecifierSet(PYPROJECT["project"]["requires-python"])


def test_no_machine_specific_paths_in_the_repository():
    try:
        files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    absolute = re.compile(r"(?<![\w.~])/(?:work|home|root|Users|mnt/data)/[\w.-]+")
    hits = []
    for name in files.splitlines():
        path = ROOT / name
        if not path.is_file() or path.suffix in {".onnx", ".bin", ".npy", ".png", ".gz", ".crfsuite", ".pkl"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        hits += [f"{name}: {m.group(0)}" for m in absolute.finditer(text)]
    assert not hits, hits[:10]


def test_testclient_import_gives_no_deprecation_warning():
    """starlette.testclient warns when it falls back to httpx: the test extra installs httpx2."""
    code = "import warnings; warnings.simplefilter('error'); import fastapi.testclient"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-500:]


def test_makefile_picks_an_installed_supported_python():
    import shutil
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    shown = subprocess.run(["make", "-s", "--no-print-directory", "pythons"], cwd=ROOT, capture_output=True,
                           text=True, timeout=60).stdout
    chosen = re.search(r"PYTHON=(\S+) OLDEST=(\S+)", shown)
    assert chosen, shown
    versions = [subprocess.run([p, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True,
                               text=True).stdout.strip() for p in chosen.groups()]
    assert all(v in ("3.11", "3.12", "3.13") for v in versions), (shown, versions)
    assert versions[0] >= versions[1]  # PYTHON is the newest, OLDEST the oldest
