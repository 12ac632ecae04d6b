import cv2
import numpy as np
import pytest

from engine.core.metrics import detail_ratio, masked_psnr, masked_ssim, psnr, ssim


def test_psnr_of_known_error():
    a = np.zeros((8, 8, 3), np.float32)
    b = a + 0.1
    assert psnr(a, b) == pytest.approx(20.0, abs=1e-4)
    assert psnr(a, a) == 100.0


def test_masked_psnr_looks_only_inside_the_mask():
    a = np.zeros((8, 8, 1), np.float32)
    b = a.copy()
    b[:4] = 0.5
    mask = np.zeros((8, 8), bool)
    mask[4:] = True
    assert masked_psnr(a, b, mask) == 100.0
    assert masked_psnr(a, b, ~mask) == pytest.approx(20 * np.log10(2), abs=1e-4)
    with pytest.raises(ValueError, match="no pixel"):
        masked_psnr(a, b, np.zeros((8, 8), bool))


def test_ssim_orders_degradations():
    rng = np.random.default_rng(0)
    clean = rng.random((64, 64, 3)).astype(np.float32)
    slight = np.clip(clean + rng.normal(0, 0.02, clean.shape), 0, 1)
    heavy = np.clip(clean + rng.normal(0, 0.2, clean.shape), 0, 1)
    assert ssim(clean, clean) == pytest.approx(1.0)
    assert 1.0 > ssim(clean, slight) > ssim(clean, heavy) > 0
    mask = np.zeros((64, 64), bool)
    mask[:32] = True
    assert masked_ssim(clean, clean, mask) == pytest.approx(1.0)


def test_detail_ratio_is_one_on_the_truth_and_low_for_a_blur():
    rng = np.random.default_rng(0)
    truth = cv2.GaussianBlur(rng.random((64, 64, 3)).astype(np.float32), (0, 0), 1.0)
    hole = np.zeros((64, 64), bool)
    hole[16:48, 16:48] = True
    assert detail_ratio(truth, truth, hole) == pytest.approx(1.0)
    blurred = np.where(hole[:, :, None], cv2.GaussianBlur(truth, (0, 0), 3.0), truth)
    assert detail_ratio(blurred, truth, hole) < 0.4
    noisy = np.where(hole[:, :, None], truth + rng.normal(0, 0.1, truth.shape), truth)
    assert detail_ratio(noisy, truth, hole) > 1.5
    with pytest.raises(ValueError, match="no pixel"):
        detail_ratio(truth, truth, np.zeros_like(hole))
