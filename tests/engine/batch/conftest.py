"""Small photo folders for the batch tests."""

from pathlib import Path

import numpy as np
import pytest

from engine.io import save


def make_photos(folder: Path, count: int, size: tuple[int, int] = (48, 64), seed: int = 0
                ) -> list[Path]:
    """``count`` noisy gradient photos, every other one in a sub-folder."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size[0], 0:size[1]]
    paths = []
    for index in range(count):
        base = np.stack([xx * 3 + index, yy * 4, 128 + 0 * xx], axis=2) % 256
        noisy = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        path = folder / ("sub" if index % 2 else "") / f"photo{index:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        paths.append(save(path, noisy))
    return paths


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    make_photos(folder, 6)
    return folder
