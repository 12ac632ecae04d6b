"""Where the shipped files are found: the override, a checkout, an installed wheel."""

import json
import re
from pathlib import Path

from engine.core import resources

ROOT = Path(__file__).resolve().parents[3]


def test_a_checkout_reads_its_own_resources_and_the_override_wins(monkeypatch, tmp_path):
    monkeypatch.delenv(resources.RESOURCES_ENV, raising=False)
    assert resources.resources_dir() == ROOT / "resources"
    monkeypatch.setenv(resources.RESOURCES_ENV, str(tmp_path))
    assert resources.resources_dir() == tmp_path


def test_an_installed_package_reads_share_pixelmend(monkeypatch, tmp_path):
    monkeypatch.delenv(resources.RESOURCES_ENV, raising=False)
    monkeypatch.setattr(resources, "_SOURCE", tmp_path / "no-checkout" / "resources")
    installed = tmp_path / "prefix" / "share" / "pixelmend"
    (installed / "models").mkdir(parents=True)
    monkeypatch.setattr(resources, "_installed_candidates", lambda: [tmp_path / "x", installed])
    assert resources.resources_dir() == installed


def test_the_wheel_carries_every_shipped_model_and_icon():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[tool.setuptools.data-files]", 1)[1].split("\n[", 1)[0]
    data_files = {json.loads(key): json.loads(value) for key, value in
                  re.findall(r'^("[^"]+")\s*=\s*(\[[^\]]*\])', section, re.M)}
    shipped = {path.relative_to(ROOT).as_posix() for folder in ("models", "icons", "recipes")
               for path in (ROOT / "resources" / folder).iterdir() if path.is_file()}
    carried = {path.relative_to(ROOT).as_posix() for patterns in data_files.values()
               for pattern in patterns for path in ROOT.glob(pattern)}
    assert shipped and shipped <= carried
    assert all(target.startswith("share/pixelmend/") for target in data_files)
