"""The denoiser recipe's configs: architectures, export names and the manifest's network part."""

from __future__ import annotations

from engine.training.denoise_config import CONFIGS, MODEL_NAME, MODEL_NAME_V2, TrainConfig


def test_the_map_width_picks_the_architecture_and_the_export_name() -> None:
    one = TrainConfig()
    two = TrainConfig(map_channels=2, noise="real")
    assert (one.architecture, one.model_name) == ("denoise_unet_v1", MODEL_NAME)
    assert (two.architecture, two.model_name) == ("denoise_unet_v2", MODEL_NAME_V2)
    assert "map_channels" not in one.model_config()
    assert two.model_config()["map_channels"] == 2
    assert two.model_config()["multiple"] == 16  # 2×2 unshuffle, three halvings


def test_every_config_builds_its_network() -> None:
    from engine.ops.denoise.net import build_denoiser

    for name in ("tiny", "tiny_v2"):
        config = CONFIGS[name]
        model = build_denoiser(config.model_config())
        assert model.map_channels == config.map_channels
    assert CONFIGS["cpu_v2"].map_channels == 2 and CONFIGS["cpu_v2"].noise == "real"
    assert CONFIGS["gpu"].model_name == MODEL_NAME_V2
