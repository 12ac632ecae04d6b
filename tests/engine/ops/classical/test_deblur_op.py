"""Deblur ops through the registry: quality against a sharp truth, masks, layouts, cancel."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.core.params import ParamError
from engine.core.progress import Cancelled, CancelToken
from engine.ops import get_op, run_op
from engine.ops.classical.kernels import blur, make_kernel

DEBLUR_OPS = ["deblur_wiener", "deblur_rl"]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * np.log10(1.0 / mse)


def sharp_scene(size: int = 112, channels: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    texture = 0.1 * np.sin(50 * xx + 30 * yy) * np.cos(40 * yy)
    image = np.stack([0.3 + 0.4 * xx + texture, 0.6 - 0.3 * yy + texture,
                      0.45 + 0.2 * np.sin(10 * xx) + texture], axis=2)
    cv2.rectangle(image, (size // 6, size // 6), (size // 2, size // 2), (0.9, 0.2, 0.3), -1)
    cv2.circle(image, (2 * size // 3, 2 * size // 3), size // 6, (0.1, 0.3, 0.8), -1)
    image += rng.normal(0.0, 0.003, image.shape)
    image = np.clip(image, 0.02, 0.98).astype(np.float32)
    return np.ascontiguousarray(image[:, :, :channels])


def blurred_pair(kind: str = "gaussian", channels: int = 3, **kernel: float,
                 ) -> tuple[np.ndarray, np.ndarray]:
    truth = sharp_scene(channels=channels)
    observed = blur(truth, make_kernel(kind, **kernel))
    observed += np.random.default_rng(3).normal(0.0, 0.001, observed.shape)
    return truth, np.clip(observed, 0.0, 1.0).astype(np.float32)


@pytest.mark.parametrize(("name", "params", "margin"), [
    ("deblur_wiener", {"kernel": "gaussian", "sigma": 2.0}, 3.0),
    ("deblur_wiener", {"kernel": "motion", "length": 9, "angle": 30}, 4.0),
    ("deblur_rl", {"kernel": "gaussian", "sigma": 2.0}, 2.0),
    ("deblur_rl", {"kernel": "motion", "length": 9, "angle": 30}, 3.0),
])
def test_deblur_restores_a_known_blur(name: str, params: dict, margin: float) -> None:
    kind = params["kernel"]
    shape = {key: value for key, value in params.items() if key != "kernel"}
    truth, observed = blurred_pair(kind, **shape)
    result = run_op(name, observed, None, params)
    gain = psnr(result.image, truth) - psnr(observed, truth)
    assert gain >= margin, f"{name} gained only {gain:.2f} dB"
    assert result.info["device"] in ("cpu", "cuda")


def test_deblur_with_the_wrong_kernel_does_worse() -> None:
    truth, observed = blurred_pair("motion", length=9, angle=30)
    right = run_op("deblur_wiener", observed, None,
                   {"kernel": "motion", "length": 9, "angle": 30}).image
    wrong = run_op("deblur_wiener", observed, None,
                   {"kernel": "motion", "length": 9, "angle": -60}).image
    assert psnr(right, truth) > psnr(wrong, truth) + 3.0


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", DEBLUR_OPS)
def test_deblur_changes_only_the_mask_and_never_the_input(name: str, channels: int) -> None:
    truth, observed = blurred_pair(channels=channels)
    before = observed.copy()
    mask = np.zeros(observed.shape[:2], bool)
    cv2.circle(mask.view(np.uint8), (56, 56), 24, 1, -1)
    params = {"iterations": 15} if name == "deblur_rl" else {}

    whole = run_op(name, observed, None, params).image
    masked = run_op(name, observed, mask, params).image

    assert np.array_equal(observed, before), "the op modified its input"
    assert masked.shape == observed.shape and masked.dtype == np.float32
    assert np.array_equal(masked[~mask], observed[~mask]), "pixels outside the mask changed"
    # Inside, the mask gets sharper, and working on the mask's neighbourhood only matches
    # working on the whole image (up to the faint influence of far-away pixels).
    assert psnr(masked[mask], truth[mask]) > psnr(observed[mask], truth[mask]) + 2.0
    core = cv2.erode(mask.view(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    assert np.abs(masked[core] - whole[core]).max() < 0.02


def test_richardson_lucy_op_stops_when_cancelled() -> None:
    _, observed = blurred_pair()
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        run_op("deblur_rl", observed, None, {"iterations": 50}, cancel=cancel)


def test_richardson_lucy_op_reports_progress() -> None:
    _, observed = blurred_pair(channels=1)
    reports: list[float] = []
    run_op("deblur_rl", observed, None, {"iterations": 12},
           progress=lambda fraction, message="", preview=None: reports.append(fraction))
    assert len(reports) >= 12
    assert reports[-1] == pytest.approx(1.0)
    assert reports == sorted(reports)


def test_deblur_params_are_declared_and_checked() -> None:
    for name in DEBLUR_OPS:
        op = get_op(name)
        assert op.category == "Deblur"
        names = [spec.name for spec in op.params]
        assert names[:5] == ["kernel", "sigma", "length", "angle", "radius"]
        assert all(spec.help for spec in op.params)
    with pytest.raises(ParamError, match="gaussian, motion, disk"):
        run_op("deblur_wiener", sharp_scene(32), None, {"kernel": "box"})
    with pytest.raises(ParamError, match="outside"):
        run_op("deblur_rl", sharp_scene(32), None, {"iterations": 0})
