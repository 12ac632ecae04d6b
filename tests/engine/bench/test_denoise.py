"""``bench denoise``: rows for our model (fast, best, true and estimated levels) and the peers,
ratios, skipping, the table."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.bench import denoise as denoise_bench  # noqa: E402
from engine.models.weights import list_models  # noqa: E402
from engine.ops.denoise.denoise_op import MODEL_NAME  # noqa: E402

pytestmark = pytest.mark.skipif(MODEL_NAME not in list_models(),
                                reason="the shipped denoiser weights are not installed")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    y, x = np.mgrid[0:80, 0:96].astype(np.float32) / 80
    for index in range(2):
        image = np.stack([0.2 + 0.6 * x, 0.5 + 0.3 * np.sin(5 * y + index), 0.7 - 0.4 * x * y],
                         axis=2)
        image[20:50, 30:70] = (0.9, 0.3, 0.2 + 0.3 * index)
        pixels = np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)
        cv2.imwrite(str(out / f"img{index}.png"), pixels[:, :, ::-1])
    return out


def _by_method(rows: list[dict], sigma: float) -> dict[str, dict]:
    return {row["method"]: row for row in rows if row["sigma"] == sigma}


def test_rows_ratios_and_table(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(denoise_bench, "_cbm3d", lambda: None)  # as if bm3d were missing
    rows = denoise_bench.run_denoise_bench(folder, [25], peers=("nlm", "cbm3d"), device="cpu")
    methods = _by_method(rows, 25)
    assert set(methods) == {"ours", "ours-auto", "nlm", "cbm3d"}
    ours = methods["ours"]
    noisy_psnr = 10 * np.log10(1 / (25 / 255) ** 2)
    assert ours["images"] == 2 and ours["psnr"] > noisy_psnr + 6.0
    assert methods["ours-auto"]["psnr"] > noisy_psnr + 5.0
    assert ours["dpsnr"] == 0.0 and ours["time_ratio"] == pytest.approx(1.0)
    nlm = methods["nlm"]
    assert nlm["psnr"] > noisy_psnr and nlm["dpsnr"] == pytest.approx(nlm["psnr"] - ours["psnr"])
    assert 0.0 < nlm["ssim"] <= 1.0 and nlm["sec_per_mp"] > 0
    assert methods["cbm3d"]["psnr"] is None and "bm3d" in methods["cbm3d"]["note"]

    table = denoise_bench.format_table(rows)
    for word in ("ours", "ours-auto", "nlm", "cbm3d", "skipped", f"{ours['psnr']:.2f}"):
        assert word in table
    summary = denoise_bench.summarize(rows)
    assert summary["ours"]["psnr"]["25"] == round(ours["psnr"], 2)


def test_same_seed_same_numbers_and_limit(folder: Path) -> None:
    first = denoise_bench.run_denoise_bench(folder, [15], limit=1, peers=(), blind=False,
                                            device="cpu")
    second = denoise_bench.run_denoise_bench(folder, [15], limit=1, peers=(), blind=False,
                                             device="cpu")
    assert [r["method"] for r in first] == ["ours"] and first[0]["images"] == 1
    assert first[0]["psnr"] == second[0]["psnr"]


def test_bad_requests_are_refused(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown peer"):
        denoise_bench.run_denoise_bench(folder, [25], peers=("dncnn",))
    with pytest.raises(ValueError, match="unknown model denoise_unet_v9"):
        denoise_bench.run_denoise_bench(folder, [25], model="denoise_unet_v9")
    with pytest.raises(ValueError, match="no supported images"):
        denoise_bench.run_denoise_bench(tmp_path, [25])
    with pytest.raises(ValueError, match="no such data folder"):
        denoise_bench.run_denoise_bench(tmp_path / "absent", [25])


def test_best_quality_and_regional_rows(folder: Path) -> None:
    rows = denoise_bench.run_denoise_bench(folder, [25], limit=1, peers=(), device="cpu",
                                           qualities=("fast", "best"),
                                           noise_maps=("uniform", "regional"))
    methods = _by_method(rows, 25)
    assert list(methods) == ["ours", "ours-auto", "ours-regional", "ours-best",
                             "ours-best-auto", "ours-best-regional"]
    assert methods["ours-best"]["psnr"] >= methods["ours"]["psnr"] - 0.05
    # The ensemble costs about 8 passes; every blind row pays for its estimate.
    assert methods["ours-best"]["time_ratio"] > 3.0
    assert methods["ours-best-auto"]["sec_per_mp"] > methods["ours-best"]["sec_per_mp"] * 0.9
    with pytest.raises(ValueError, match="unknown quality"):
        denoise_bench.run_denoise_bench(folder, [25], qualities=("slow",))
    with pytest.raises(ValueError, match="unknown noise map"):
        denoise_bench.run_denoise_bench(folder, [25], noise_maps=())


def test_an_estimate_is_never_read_for_another_image(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.ops.denoise import denoise_op

    monkeypatch.setattr(denoise_op, "denoise_array", lambda noisy, levels, **_: (levels, {}))
    ours = denoise_bench._Ours(("fast",), ("uniform",), True, "cpu", MODEL_NAME)
    rng = np.random.default_rng(3)
    first = (0.5 + rng.standard_normal((64, 64, 3)) * 50 / 255).astype(np.float32)
    second = (0.5 + rng.standard_normal((64, 64, 3)) * 10 / 255).astype(np.float32)
    assert ours.methods["ours-auto"](first, 50)[0] * 255 == pytest.approx(50, rel=0.15)
    # An array freed and a new one at the same address share an id: the cache must notice.
    ours._cache[(id(second), "uniform")] = ours._cache.pop((id(first), "uniform"))
    assert ours.methods["ours-auto"](second, 10)[0] * 255 == pytest.approx(10, rel=0.15)
    assert ours.methods["ours-auto"](second, 10)[0] * 255 == pytest.approx(10, rel=0.15)
    assert ours.extra_seconds > 0  # the second call was read from the cache
