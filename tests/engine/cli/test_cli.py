"""Tests of the ``pixelmend`` command line, run in-process through ``main([...])``.

Test-only ops are put in the registry by a fixture and taken out again afterwards, so they never
leak into tests that walk every registered op.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from engine.cli import ProgressBar, main
from engine.core.params import Choice, Float
from engine.core.pixels import from_float, to_float
from engine.io import load, save
from engine.ops import Op, OpResult, all_ops, op_names
from engine.ops import registry as op_registry


class _Invert(Op):
    name = "_test_invert"
    title = "Invert (test)"
    category = "Test"
    description = "Mixes each pixel with its negative."
    params = (
        Float("strength", 1.0, minimum=0.0, maximum=1.0, help="How far to invert."),
        Choice("flavour", "plain", choices=("plain", "spicy"), help="Ignored."),
    )

    def run(self, image, mask, params, progress, cancel, device):
        strength = np.float32(params["strength"])
        progress(0.5, "inverting")
        return OpResult(image=(image * (1 - strength) + (1 - image) * strength).astype(np.float32))


class _Propose(Op):
    name = "_test_propose"
    title = "Propose bright pixels (test)"
    category = "Test"
    mask_use = "ignore"

    def run(self, image, mask, params, progress, cancel, device):
        return OpResult(mask=image.mean(axis=2) > 0.5)


class _Interrupt(Op):
    name = "_test_interrupt"
    title = "Presses Ctrl+C (test)"
    category = "Test"

    def run(self, image, mask, params, progress, cancel, device):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(300):
            cancel.raise_if_cancelled()
            time.sleep(0.01)
        return OpResult(image=image.copy())


class _Broken(Op):
    name = "_test_broken"
    title = "Has a bug (test)"
    category = "Test"

    def run(self, image, mask, params, progress, cancel, device):
        raise ZeroDivisionError("a bug in the op")


_TEST_OPS = (_Invert, _Propose, _Interrupt, _Broken)


@pytest.fixture(autouse=True)
def test_ops(monkeypatch):
    op_names()  # load the built-in ops first
    for cls in _TEST_OPS:
        monkeypatch.setitem(op_registry._REGISTRY, cls.name, cls)


def _photo(height=48, width=64, channels=3, dtype=np.uint8, seed=0):
    """A smooth gradient with some texture: a small stand-in for a photograph."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    planes = [(np.sin(x / (5 + c)) * np.cos(y / (7 - c)) + 1) / 2 for c in range(channels)]
    image = np.clip(np.stack(planes, axis=2) * 0.8 + 0.1
                    + rng.normal(0, 0.02, (height, width, channels)), 0, 1).astype(np.float32)
    return from_float(image, dtype)


def _write(path, pixels):
    save(path, pixels)
    return path


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("pixelmend: error: "), err
    assert "Traceback" not in err
    return lines[0]


def _psnr(a, b):
    mse = np.mean((to_float(a).astype(np.float64) - to_float(b)) ** 2)
    return 10 * np.log10(1 / mse)


# ------------------------------------------------------------------------------------ listing


def test_ops_lists_every_op_with_params_as_text(capsys):
    assert main(["ops"]) == 0
    out = capsys.readouterr().out
    for name in op_names():
        assert f"  {name} — " in out
    assert "strength=1" in out and "0…1" in out and "How far to invert." in out
    assert "one of plain|spicy" in out
    assert "Test:" in out


def test_ops_json_is_the_describe_list(capsys):
    assert main(["ops", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    by_name = {entry["name"]: entry for entry in listing}
    assert set(by_name) == set(op_names())
    assert by_name["_test_invert"] == _Invert.describe()
    assert by_name["_test_invert"]["params"][0]["maximum"] == 1.0


def test_console_script_version_and_ops():
    script = Path(sys.executable).with_name("pixelmend")
    assert script.exists(), "the pixelmend console script is installed with the package"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.strip().startswith("pixelmend ")
    done = subprocess.run([str(script), "ops", "--json"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    names = {entry["name"] for entry in json.loads(done.stdout)}
    built_in = {op.name for op in all_ops(builtin_only=True)}
    assert names == built_in


# ------------------------------------------------------------------------------------ running


def test_run_one_file_with_set(tmp_path, capsys):
    pixels = _photo()
    source = _write(tmp_path / "in.png", pixels)
    target = tmp_path / "out.png"
    assert main(["run", "_test_invert", str(source), "-o", str(target),
                 "--set", "strength=1", "--set", "flavour=spicy"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {target}" in out
    np.testing.assert_array_equal(load(target).pixels, 255 - pixels)


def test_run_with_partial_strength_matches_the_op(tmp_path):
    pixels = _photo()
    source = _write(tmp_path / "in.png", pixels)
    target = tmp_path / "out.png"
    assert main(["run", "_test_invert", str(source), "-o", str(target), "--quiet",
                 "--set", "strength=0.25"]) == 0
    image = to_float(pixels)
    expected = from_float(image * np.float32(0.75) + (1 - image) * np.float32(0.25))
    np.testing.assert_array_equal(load(target).pixels, expected)


def test_folder_with_a_corrupt_file_processes_the_others(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    good = {name: _photo(seed=i) for i, name in enumerate(("a.png", "c.png"))}
    for name, pixels in good.items():
        _write(folder / name, pixels)
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    (folder / "notes.txt").write_text("not an image")
    out_dir = tmp_path / "out" / "nested"
    code = main(["run", "_test_invert", str(folder), "-o", str(out_dir)])
    captured = capsys.readouterr()
    assert code == 1
    for name, pixels in good.items():
        np.testing.assert_array_equal(load(out_dir / name).pixels, 255 - pixels)
    assert not (out_dir / "b.png").exists() and not (out_dir / "notes.txt").exists()
    err_lines = captured.err.strip().splitlines()
    assert len(err_lines) == 2, captured.err
    assert err_lines[0].startswith("pixelmend: error: ") and "b.png" in err_lines[0]
    assert err_lines[1] == "pixelmend: 1 of 3 files failed"
    assert "Traceback" not in captured.err
    assert captured.out.count("wrote ") == 2


def test_folder_output_with_format_and_recursive(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    _write(folder / "a.png", _photo(seed=1))
    _write(folder / "sub" / "b.jpg", _photo(seed=2))
    out_dir = tmp_path / "out"
    assert main(["run", "_test_invert", str(folder), "-o", str(out_dir), "--quiet",
                 "--format", "tif"]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.tif"]
    np.testing.assert_array_equal(load(out_dir / "a.tif").pixels, 255 - _photo(seed=1))
    assert main(["run", "_test_invert", str(folder), "-o", str(out_dir), "--quiet",
                 "--format", "png", "--recursive"]) == 0
    assert (out_dir / "a.png").is_file() and (out_dir / "sub" / "b.png").is_file()


def test_refuses_to_overwrite_without_flag(tmp_path, capsys):
    pixels = _photo()
    source = _write(tmp_path / "in.png", pixels)
    target = _write(tmp_path / "out.png", np.zeros_like(pixels))
    assert main(["run", "_test_invert", str(source), "-o", str(target)]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "--overwrite" in line
    assert not load(target).pixels.any()
    assert main(["run", "_test_invert", str(source), "-o", str(target), "--overwrite"]) == 0
    np.testing.assert_array_equal(load(target).pixels, 255 - pixels)


def test_never_overwrites_the_input_itself(tmp_path, capsys):
    pixels = _photo()
    source = _write(tmp_path / "in.png", pixels)
    assert main(["run", "_test_invert", str(source), "-o", str(source), "--overwrite"]) == 1
    assert "input file itself" in _one_error_line(capsys.readouterr().err)
    np.testing.assert_array_equal(load(source).pixels, pixels)


def test_recipe_with_set_override(tmp_path, capsys):
    pixels = _photo()
    source = _write(tmp_path / "in.png", pixels)
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"op": "_test_invert", "params": {"strength": 1.0},
                                  "engine": "0.1.0"}))
    by_recipe, overridden = tmp_path / "recipe.png", tmp_path / "override.png"
    assert main(["run", "--recipe", str(recipe), str(source), "-o", str(by_recipe)]) == 0
    assert main(["run", "--recipe", str(recipe), str(source), "-o", str(overridden),
                 "--set", "strength=0"]) == 0
    np.testing.assert_array_equal(load(by_recipe).pixels, 255 - pixels)
    np.testing.assert_array_equal(load(overridden).pixels, pixels)


def test_mask_confines_the_change(tmp_path):
    pixels = _photo()
    mask = np.zeros(pixels.shape[:2], np.uint8)
    mask[10:30, 20:50] = 255
    source = _write(tmp_path / "in.png", pixels)
    mask_path = _write(tmp_path / "mask.png", mask)
    target = tmp_path / "out.png"
    assert main(["run", "_test_invert", str(source), "--mask", str(mask_path), "-o",
                 str(target), "--quiet"]) == 0
    result = load(target).pixels
    inside = mask > 0
    np.testing.assert_array_equal(result[inside], 255 - pixels[inside])
    np.testing.assert_array_equal(result[~inside], pixels[~inside])


def test_mask_proposal_is_saved_as_a_white_on_black_png(tmp_path, capsys):
    pixels = _photo()
    source = _write(tmp_path / "in.jpg", pixels)
    assert main(["run", "_test_propose", str(source), "-o", str(tmp_path / "found.jpg")]) == 0
    assert "mask proposal" in capsys.readouterr().out
    saved = load(tmp_path / "found.png").pixels
    expected = to_float(load(source).pixels).mean(axis=2) > 0.5
    assert saved.dtype == np.uint8 and set(np.unique(saved)) <= {0, 255}
    np.testing.assert_array_equal(saved[:, :, 0] == 255, expected)


def test_sixteen_bit_in_sixteen_bit_out(tmp_path):
    pixels = _photo(dtype=np.uint16)
    assert pixels.max() > 255 and (pixels % 257).any()  # real 16-bit values
    source = _write(tmp_path / "deep.png", pixels)
    target = tmp_path / "deep_out.png"
    assert main(["run", "_test_invert", str(source), "-o", str(target), "--quiet"]) == 0
    loaded = load(target)
    assert loaded.pixels.dtype == np.uint16 and loaded.bit_depth == 16
    np.testing.assert_array_equal(loaded.pixels, 65535 - pixels)


def test_rgba_keeps_alpha(tmp_path):
    colour = _photo()
    alpha = np.linspace(0, 255, colour.shape[0] * colour.shape[1]).astype(np.uint8)
    pixels = np.concatenate([colour, alpha.reshape(colour.shape[:2] + (1,))], axis=2)
    source = _write(tmp_path / "rgba.png", pixels)
    target = tmp_path / "rgba_out.png"
    assert main(["run", "_test_invert", str(source), "-o", str(target), "--quiet"]) == 0
    result = load(target).pixels
    assert result.shape == pixels.shape
    np.testing.assert_array_equal(result[:, :, 3], pixels[:, :, 3])
    np.testing.assert_array_equal(result[:, :, :3], 255 - colour)


def test_a_generated_image_of_another_size_from_an_rgba_source(tmp_path):
    colour = _photo(64, 64)
    pixels = np.concatenate([colour, np.full((64, 64, 1), 200, np.uint8)], axis=2)
    source = _write(tmp_path / "sample.png", pixels)
    target = tmp_path / "more.png"
    assert main(["run", "texture_patch", str(source), "-o", str(target), "--quiet",
                 "--set", "width=96", "--set", "height=80", "--set", "block=16",
                 "--set", "overlap=4"]) == 0
    assert load(target).pixels.shape == (80, 96, 3)


def test_upscaling_a_sixteen_bit_rgba_photo_keeps_depth_and_enlarges_alpha(tmp_path):
    colour = _photo(40, 48, dtype=np.uint16)
    alpha = np.zeros((40, 48, 1), np.uint16)
    alpha[8:32, 12:36] = 65535
    source = _write(tmp_path / "deep.png", np.concatenate([colour, alpha], axis=2))
    target = tmp_path / "big.png"
    assert main(["run", "upscale", str(source), "-o", str(target), "--quiet",
                 "--set", "scale=3"]) == 0
    loaded = load(target)
    assert loaded.pixels.shape == (120, 144, 4) and loaded.pixels.dtype == np.uint16
    assert loaded.pixels[60, 72, 3] == 65535 and loaded.pixels[5, 5, 3] == 0


def test_the_upscale_recipe_denoises_then_doubles_the_size(tmp_path):
    noisy = np.clip(to_float(_photo(40, 56)) + np.random.default_rng(3).normal(
        0, 0.08, (40, 56, 3)), 0, 1).astype(np.float32)
    source = _write(tmp_path / "small.png", from_float(noisy))
    target = tmp_path / "large.png"
    assert main(["run", "--recipe", "upscale-photo", str(source), "-o", str(target),
                 "--quiet"]) == 0
    assert load(target).pixels.shape == (80, 112, 3)


def test_icc_profile_and_exif_are_kept(tmp_path):
    from PIL import Image, ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "PixelMend test camera"
    source = tmp_path / "tagged.png"
    save(source, _photo(), icc_profile=icc, exif=exif.tobytes())
    target = tmp_path / "tagged_out.png"
    assert main(["run", "_test_invert", str(source), "-o", str(target), "--quiet"]) == 0
    loaded = load(target)
    assert loaded.icc_profile == icc
    written = Image.Exif()
    written.load(loaded.exif)
    assert written[0x010F] == "PixelMend test camera"


# ------------------------------------------------------------------------------------- errors


def _error_case(tmp_path, kind):
    source = _write(tmp_path / "in.png", _photo())
    out = str(tmp_path / "out.png")
    if kind == "unknown op":
        return ["run", "no_such_op", str(source), "-o", out], 2, "no_such_op"
    if kind == "bad value":
        return ["run", "_test_invert", str(source), "-o", out, "--set", "strength=7"], 2, \
            "strength"
    if kind == "unknown param":
        return ["run", "_test_invert", str(source), "-o", out, "--set", "radius=2"], 2, "radius"
    if kind == "unreadable file":
        bad = tmp_path / "bad.png"
        bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
        return ["run", "_test_invert", str(bad), "-o", out], 1, "bad.png"
    if kind == "missing file":
        return ["run", "_test_invert", str(tmp_path / "nope.png"), "-o", out], 2, "nope.png"
    if kind == "mask size":
        mask = _write(tmp_path / "mask.png", np.full((10, 10), 255, np.uint8))
        return ["run", "_test_invert", str(source), "--mask", str(mask), "-o", out], 1, "10×10"
    if kind == "missing output folder":
        return ["run", "_test_invert", str(source), "-o", str(tmp_path / "no" / "o.png")], 2, \
            "does not exist"
    if kind == "no output":
        return ["run", "_test_invert", str(source)], 2, "-o"
    if kind == "bad recipe":
        recipe = tmp_path / "r.json"
        recipe.write_text("{not json")
        return ["run", "--recipe", str(recipe), str(source), "-o", out], 2, "r.json"
    if kind == "several inputs, file output":
        other = _write(tmp_path / "in2.png", _photo(seed=3))
        return ["run", "_test_invert", str(source), str(other), "-o", out], 2, "folder"
    if kind == "bug in op":
        return ["run", "_test_broken", str(source), "-o", out], 1, "ZeroDivisionError"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["unknown op", "bad value", "unknown param", "unreadable file",
                                  "missing file", "mask size", "missing output folder",
                                  "no output", "bad recipe", "several inputs, file output",
                                  "bug in op"])
def test_errors_are_one_line_with_an_exit_code(tmp_path, capsys, kind):
    argv, code, needle = _error_case(tmp_path, kind)
    assert main(argv) == code
    captured = capsys.readouterr()
    assert needle in _one_error_line(captured.err)
    assert not (tmp_path / "out.png").exists()


def test_an_image_that_will_not_fit_in_memory_is_one_line(tmp_path, capsys, monkeypatch):
    source = _write(tmp_path / "wide.png", _photo(500, 600))
    monkeypatch.setenv("PIXELMEND_MAX_MEMORY", "1M")
    assert main(["run", "_test_invert", str(source), "-o", str(tmp_path / "out.png")]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "wide.png" in line and "600×500 image" in line and "PIXELMEND_MAX_MEMORY=" in line
    assert "unexpected" not in line and not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("damage", ["one byte changed", "truncated", "manifest garbled"])
def test_a_damaged_model_file_is_one_line_naming_it_with_reinstall(tmp_path, capsys,
                                                                    monkeypatch, damage):
    from engine.core.resources import resources_dir
    from engine.models.weights import clear_model_cache

    shipped = resources_dir() / "models"
    models = tmp_path / "resources" / "models"
    models.mkdir(parents=True)
    (models / "manifest.json").write_bytes((shipped / "manifest.json").read_bytes())
    weights = bytearray((shipped / "denoise_unet.safetensors").read_bytes())
    if damage == "one byte changed":
        weights[len(weights) // 2] ^= 0x5A
    elif damage == "truncated":
        weights = weights[:4096]
    else:
        (models / "manifest.json").write_text('{"models": {"denoise_unet": ')
    (models / "denoise_unet.safetensors").write_bytes(bytes(weights))
    monkeypatch.setenv("PIXELMEND_RESOURCES", str(tmp_path / "resources"))
    clear_model_cache()
    source = _write(tmp_path / "in.png", _photo())
    try:
        code = main(["run", "denoise", str(source), "-o", str(tmp_path / "out.png"), "--quiet"])
    finally:
        clear_model_cache()
    line = _one_error_line(capsys.readouterr().err)
    assert code == 1 and "reinstall" in line and "unexpected" not in line, line
    named = "manifest.json" if damage == "manifest garbled" else "denoise_unet.safetensors"
    assert str(models / named) in line, line
    assert not (tmp_path / "out.png").exists()


def test_debug_shows_the_traceback_of_a_bug(tmp_path, capsys):
    source = _write(tmp_path / "in.png", _photo())
    assert main(["run", "_test_broken", str(source), "-o", str(tmp_path / "o.png"),
                 "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals reach only the main thread")
def test_ctrl_c_cancels_cleanly_without_partial_output(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        _write(folder / name, _photo())
    out_dir = tmp_path / "out"
    assert main(["run", "_test_interrupt", str(folder), "-o", str(out_dir)]) == 130
    assert "cancelled" in capsys.readouterr().err
    assert list(out_dir.iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# ----------------------------------------------------------------------- no command, progress


def test_no_command_prints_help_and_a_path_is_no_command(capsys):
    assert main([]) == 2
    assert "pixelmend run" in capsys.readouterr().out
    assert main(["photo.png"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "unknown command 'photo.png'" in line and "ops, run, batch, bench" in line


def test_the_engine_cli_never_imports_the_desktop():
    done = subprocess.run([sys.executable, "-c", "import sys; from engine.cli import main; "
                           "main(['--version']); main(['ops']); "
                           "sys.exit(any(m.split('.')[0] in ('desktop', 'PySide6') "
                           "for m in sys.modules))"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_version_and_help_return_zero(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("pixelmend ")
    assert main(["run", "--help"]) == 0
    assert "folder" in capsys.readouterr().out


def test_progress_bar_redraws_on_a_terminal_and_is_sparse_otherwise():
    stream = io.StringIO()
    bar = ProgressBar(2, stream, interactive=True)
    bar.begin(1, "a.png")
    time.sleep(0.11)
    bar(0.5, "filtering")
    assert "\r[1/2] a.png [" in stream.getvalue() and " 50% filtering" in stream.getvalue()
    bar.clear()
    assert stream.getvalue().endswith("\r")
    log = io.StringIO()
    quiet_bar = ProgressBar(3, log, interactive=False, interval=5.0)
    quiet_bar.begin(2, "b.png")
    for step in range(100):
        quiet_bar(step / 100, "working")
    assert log.getvalue() == ""
    quiet_bar.interval = 0.0
    quiet_bar(0.25, "working")
    assert log.getvalue() == "[2/3] b.png [######..................]  25% working\n"


# -------------------------------------------------------------------------- real ops


def test_adaptive_median_repairs_salt_and_pepper(tmp_path):
    clean = _photo(96, 128)
    rng = np.random.default_rng(7)
    noisy = clean.copy()
    hit = rng.random(clean.shape[:2]) < 0.10
    salt = rng.random(clean.shape[:2]) < 0.5
    noisy[hit & salt] = 255
    noisy[hit & ~salt] = 0
    source = _write(tmp_path / "noisy.png", noisy)
    target = tmp_path / "out.png"
    assert main(["run", "adaptive_median", str(source), "-o", str(target), "--quiet"]) == 0
    repaired = load(target).pixels
    assert _psnr(repaired, clean) - _psnr(noisy, clean) > 15
