import numpy as np
import pytest
import torch

from engine.core.progress import Cancelled, CancelToken
from engine.core.tiling import iter_tiles, process_tiled, run_tiled_torch


def test_tiles_cover_the_image_with_overlap():
    covered = np.zeros((300, 517), int)
    for rows, cols in iter_tiles(300, 517, 128, 16):
        covered[rows, cols] += 1
    assert covered.min() >= 1 and covered.max() <= 4


def test_pointwise_function_is_reproduced_exactly_across_tiles():
    image = np.random.default_rng(0).random((301, 517, 3), dtype=np.float32)
    out = process_tiled(image, lambda tile: tile * 0.5 + 0.1, tile=96, overlap=24)
    assert np.abs(out - (image * 0.5 + 0.1)).max() < 1e-6


def test_convolution_shows_no_seams_away_from_the_border():
    # A blur computed per tile differs from the full-image blur only near tile edges; the
    # overlap blend must keep that difference small everywhere inside the image.
    image = np.random.default_rng(1).random((200, 200, 1), dtype=np.float32)
    conv = torch.nn.Conv2d(1, 1, 5, padding=2, bias=False, padding_mode="reflect")
    torch.nn.init.constant_(conv.weight, 1 / 25)
    full = conv(torch.from_numpy(image.transpose(2, 0, 1))[None]).detach()[0].numpy()
    full = full.transpose(1, 2, 0)
    tiled, info = run_tiled_torch(image, conv, device="cpu", tile=64, overlap=32)
    inner = np.s_[4:-4, 4:-4]
    assert np.abs(tiled[inner] - full[inner]).max() < 0.02
    assert info == {"device": "cpu", "tile": 64, "fallbacks": []}


def test_out_of_memory_on_the_cpu_is_not_hidden():
    def forward(tensor):
        raise RuntimeError("DefaultCPUAllocator: out of memory")

    image = np.zeros((64, 64, 3), np.float32)
    with pytest.raises(RuntimeError, match="out of memory"):
        run_tiled_torch(image, forward, device="cpu", tile=64, overlap=16)


def test_cancel_is_checked_per_tile():
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        process_tiled(np.zeros((64, 64, 1), np.float32), lambda t: t, tile=32, overlap=8,
                      cancel=token)


def test_an_enlarging_function_is_placed_and_blended_on_the_larger_canvas():
    image = np.random.default_rng(4).random((150, 203, 3), dtype=np.float32)

    def nearest(tile: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(tile, 3, axis=0), 3, axis=1)

    out = process_tiled(image, nearest, tile=64, overlap=16, scale=3)
    assert out.shape == (450, 609, 3)
    assert np.abs(out - nearest(image)).max() < 1e-6


def test_an_enlarging_network_runs_tiled_with_the_output_scale():
    image = np.random.default_rng(5).random((100, 90, 1), dtype=np.float32)
    shuffle = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 1, bias=False), torch.nn.PixelShuffle(2))
    torch.nn.init.constant_(shuffle[0].weight, 1.0)
    out, _ = run_tiled_torch(image, shuffle, device="cpu", tile=48, overlap=12, multiple=1,
                             scale=2)
    assert out.shape == (200, 180, 1)
    assert np.abs(out - np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)).max() < 1e-6


def test_an_enlarging_network_on_sizes_that_need_padding_is_cropped_back():
    image = np.random.default_rng(6).random((37, 53, 1), dtype=np.float32)

    def nearest(tensor):
        assert tensor.shape[-2] % 8 == 0 and tensor.shape[-1] % 8 == 0
        return torch.repeat_interleave(torch.repeat_interleave(tensor, 3, dim=2), 3, dim=3)

    out, _ = run_tiled_torch(image, nearest, device="cpu", tile=32, overlap=8, multiple=8,
                             scale=3)
    assert out.shape == (111, 159, 1)
    assert np.abs(out - np.repeat(np.repeat(image, 3, axis=0), 3, axis=1)).max() < 1e-6
