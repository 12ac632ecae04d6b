import cv2
import numpy as np
import pytest

from engine.core.metrics import masked_psnr
from engine.core.pixels import from_float, to_float
from engine.ops import OpError, run_op
from engine.ops.classical.deconvolution import richardson_lucy, wiener
from engine.ops.classical.kernels import make_kernel
from engine.ops.privacy.anonymise import LEVELS, anonymise, region_strength


def _portrait(size: int = 128, seed: int = 0, channels: int = 3) -> np.ndarray:
    """A busy 'portrait': an oval of skin tone with dark eyes, brows and mouth, hair strands,
    fine texture and noise, on a ramp background — detail a deconvolution could bring back."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    image = np.stack([0.3 + 0.4 * xx, 0.35 + 0.3 * yy, 0.5 - 0.2 * xx], axis=2)
    face = np.zeros((size, size), np.float32)
    cv2.ellipse(face, (size // 2, size // 2), (size // 4, size // 3), 0, 0, 360, 1.0, -1)
    image = image * (1 - face[:, :, None]) + np.array([0.85, 0.65, 0.55]) * face[:, :, None]
    features = np.zeros((size, size), np.float32)
    for x in (size // 2 - 14, size // 2 + 14):
        cv2.circle(features, (x, size // 2 - 10), 5, 1.0, -1)
        cv2.line(features, (x - 9, size // 2 - 22), (x + 9, size // 2 - 20), 1.0, 2)
    cv2.ellipse(features, (size // 2, size // 2 + 22), (14, 5), 0, 0, 180, 1.0, 2)
    for _ in range(40):
        x = int(rng.integers(size // 4, 3 * size // 4))
        cv2.line(features, (x, size // 8), (x + int(rng.integers(-8, 9)), size // 4), 0.7, 1)
    image = image * (1 - 0.8 * features[:, :, None])
    texture = rng.normal(0, 1, (size, size)).astype(np.float32)
    image = image + 0.06 * cv2.GaussianBlur(texture, (0, 0), 0.7)[:, :, None]
    image = np.clip(image + rng.normal(0, 0.01, image.shape), 0, 1).astype(np.float32)
    if channels == 1:
        image = image.mean(axis=2, keepdims=True)
    return image


def _face_mask(size: int = 128) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.ellipse(mask, (size // 2, size // 2), (size // 4 + 4, size // 3 + 4), 0, 0, 360, 1, -1)
    return mask > 0


def _detail(image: np.ndarray) -> np.ndarray:
    grey = image.mean(axis=2)
    return grey - cv2.GaussianBlur(grey, (0, 0), 2.0)


def _correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    x, y = a[mask] - a[mask].mean(), b[mask] - b[mask].mean()
    return float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum() + 1e-12))


def _best_restorations(hidden: np.ndarray, block: int) -> list[np.ndarray]:
    """What an attacker who knows the method tries: Wiener and Richardson–Lucy with Gaussian
    kernels of the blur's own width and smaller ones."""
    out = []
    for sigma in (float(block), block / 2, 2.0, 1.0):
        kernel = make_kernel("gaussian", sigma=sigma)
        for balance in (1e-3, 1e-2):
            out.append(np.clip(wiener(hidden, kernel, balance), 0, 1))
    out.append(np.clip(richardson_lucy(hidden, make_kernel("gaussian", sigma=block), 30),
                       0, 1))
    return out


@pytest.mark.parametrize("method", ["pixelate", "blur"])
def test_hidden_face_is_not_brought_back_by_deconvolution(method):
    image, mask = _portrait(), _face_mask()
    result = run_op("anonymise", image, mask, {"method": method})
    block = result.info["regions"][0]["block"]
    assert masked_psnr(result.image, image, mask) < 20.0
    assert abs(_correlation(_detail(result.image), _detail(image), mask)) < 0.1
    for restored in _best_restorations(result.image, block):
        assert masked_psnr(restored, image, mask) < 20.0
        assert abs(_correlation(_detail(restored), _detail(image), mask)) < 0.1


def test_a_weak_blur_is_brought_back_so_the_check_can_fail():
    # The attack the test above runs does bring back a plain Gaussian blur: past 20 dB, with
    # the fine detail correlated.
    image, mask = _portrait(), _face_mask()
    kernel = make_kernel("gaussian", sigma=1.5)
    blurred = cv2.GaussianBlur(image, (0, 0), 1.5)
    restored = np.clip(wiener(blurred, kernel, 1e-3), 0, 1)
    assert masked_psnr(restored, image, mask) > max(20.0, masked_psnr(blurred, image, mask) + 2)
    assert _correlation(_detail(restored), _detail(image), mask) > 0.5


@pytest.mark.parametrize("method", ["pixelate", "blur", "fill", "noise"])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_method_changes_only_the_mask(method, channels):
    image, mask = _portrait(channels=channels), _face_mask()
    out = run_op("anonymise", image, mask, {"method": method, "feather": 3.0}).image
    assert out.shape == image.shape and out.dtype == np.float32
    assert np.array_equal(out[~mask], image[~mask])
    assert masked_psnr(out, image, mask) < 20.0
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_sixteen_bit_pixels_round_trip_outside_and_are_rounded_inside():
    rng = np.random.default_rng(3)
    source = from_float(_portrait(), np.uint16)
    source[::7, ::5] += rng.integers(0, 200, source[::7, ::5].shape, dtype=np.uint16)
    image, mask = to_float(source), _face_mask()
    out = run_op("anonymise", image, mask, {"method": "pixelate"}).image
    assert np.array_equal(from_float(out, np.uint16)[~mask], source[~mask])
    levels = out[mask] * (LEVELS - 1)
    assert np.allclose(levels, np.rint(levels), atol=1e-4)


def test_blocks_scale_with_the_region_so_big_and_small_faces_are_equally_coarse():
    image = _portrait(256)
    mask = np.zeros((256, 256), bool)
    mask[10:42, 10:42] = True          # 32 px
    mask[120:216, 120:216] = True      # 96 px
    result = run_op("anonymise", image, mask, {"method": "pixelate", "noise": 0.0,
                                               "detail": 4})
    blocks = sorted(region["block"] for region in result.info["regions"])
    assert blocks == [8, 24]
    row = result.image[130, 120:216, 0]
    assert len(np.unique(row)) <= 4 + 1
    fixed = run_op("anonymise", image, mask, {"method": "pixelate", "scale": "fixed",
                                              "block_px": 8}).info["regions"]
    assert [region["block"] for region in fixed] == [8, 8]
    assert region_strength(10.0, detail=6, relative=True, size_px=16) == 2


def test_fill_colours_and_noise_fill():
    image, mask = _portrait(), _face_mask()
    black = run_op("anonymise", image, mask, {"method": "fill"}).image
    assert np.all(black[mask] == 0.0)
    average = run_op("anonymise", image, mask, {"method": "fill", "fill": "average"}).image
    assert np.allclose(average[mask], image[mask].mean(axis=0), atol=1e-5)
    noisy = run_op("anonymise", image, mask, {"method": "noise"}).image
    assert noisy[mask].std() > 0.03
    assert np.allclose(noisy[mask].mean(axis=0), image[mask].mean(axis=0), atol=0.03)
    assert abs(_correlation(noisy.mean(axis=2), image.mean(axis=2), mask)) < 0.1


def test_feather_softens_only_a_ring_and_the_inside_is_fully_hidden():
    image, mask = _portrait(), _face_mask()
    hard = run_op("anonymise", image, mask, {"method": "pixelate"}).image
    soft = run_op("anonymise", image, mask, {"method": "pixelate", "feather": 6.0}).image
    inner = cv2.erode(mask.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    assert np.array_equal(soft[inner], hard[inner])
    ring = mask & ~inner
    assert not np.array_equal(soft[ring], hard[ring])
    assert np.array_equal(soft[~mask], image[~mask])


def test_the_seed_makes_runs_repeatable():
    image, mask = _portrait(), _face_mask()
    first = run_op("anonymise", image, mask, {"seed": 4}).image
    again = run_op("anonymise", image, mask, {"seed": 4}).image
    other = run_op("anonymise", image, mask, {"seed": 5}).image
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_an_empty_or_missing_mask_is_refused():
    image = _portrait()
    with pytest.raises(OpError, match="needs a mask"):
        run_op("anonymise", image, None)
    with pytest.raises(OpError, match="needs a mask"):
        run_op("anonymise", image, np.zeros(image.shape[:2], bool))
    with pytest.raises(ValueError, match="empty"):
        anonymise(image, np.zeros(image.shape[:2], bool))
    with pytest.raises(ValueError, match="unknown method"):
        anonymise(image, _face_mask(), method="swirl")
