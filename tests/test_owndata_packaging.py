"""Packaging: one version, typed, an SPDX license, TOML on every supported Python."""

from __future__ import annotations

import importlib.metadata
import re
import sys
import types

from script_helpers import ROOT

import twolayer
from twolayer.search.space import load_space_file

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_one_version_read_from_the_installed_metadata():
    assert twolayer.__version__ == importlib.metadata.version("twolayer")
    source = (ROOT / "twolayer/__init__.py").read_text()
    assert not re.search(r"__version__\s*=\s*['\"]\d+\.\d+", source)  # no second copy
    assert re.fullmatch(r"\d+\.\d+\.\d+", PYPROJECT["project"]["version"])


def test_typed_licensed_and_tomli_where_needed():
    assert (ROOT / "twolayer" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["twolayer"]
    assert PYPROJECT["project"]["license"] == "MIT"  # SPDX: needs setuptools >= 77
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]
    deps = PYPROJECT["project"]["dependencies"]
    assert "tomli>=1.1; python_version < '3.11'" in deps
    assert {"pillow>=9.1", "threadpoolctl>=3"} <= set(deps)


def test_sdist_leaves_the_tests_out():
    assert "prune tests" in (ROOT / "MANIFEST.in").read_text().splitlines()


def test_toml_spaces_read_with_tomli_before_python_3_11(tmp_path, monkeypatch):
    calls = []
    fake = types.SimpleNamespace(
        loads=lambda text: calls.append(text) or tomllib.loads(text),
        TOMLDecodeError=tomllib.TOMLDecodeError,
    )
    monkeypatch.setitem(sys.modules, "tomli", fake)
    monkeypatch.setattr(sys, "version_info", (3, 10, 0))
    path = tmp_path / "space.toml"
    path.write_text("hidden = [8, 16]\n")
    assert load_space_file(path) == {"hidden": {"choices": [8, 16]}}
    assert calls == ["hidden = [8, 16]\n"]
