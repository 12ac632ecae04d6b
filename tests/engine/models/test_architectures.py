import json

import pytest
import torch
from safetensors.torch import save_file

from engine.models.architectures import (
    ArchitectureError,
    architecture_names,
    build_network,
    register_architecture,
)
from engine.models.weights import WeightsError, clear_model_cache, load_model, sha256_file


class _Tiny(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = torch.nn.Linear(width, 3, bias=False)


def _build_tiny(config):
    return _Tiny(int(config["width"]))


def test_every_shipped_manifest_entry_names_a_registered_architecture():
    from engine.models.weights import list_models, model_entry

    names = architecture_names()
    assert {"denoise_unet_v1", "inpaint_ffc_v1"} <= set(names)
    for model in list_models():
        assert model_entry(model).architecture in names


def test_the_manifest_architecture_picks_the_network(tmp_path):
    register_architecture("tiny_test_v1", _build_tiny)
    register_architecture("tiny_test_v1", _build_tiny)  # the same builder again is fine
    with pytest.raises(ValueError, match="already registered"):
        register_architecture("tiny_test_v1", lambda config: None)
    tensors = {"conv.weight": torch.ones(3, 5)}
    path = tmp_path / "tiny.safetensors"
    save_file(tensors, str(path))
    entry = {"file": path.name, "sha256": sha256_file(path), "architecture": "tiny_test_v1",
             "config": {"width": 5}}
    (tmp_path / "manifest.json").write_text(json.dumps({"models": {"tiny": entry}}))
    clear_model_cache("tiny")
    try:
        model, _ = load_model("tiny", "cpu", folder=tmp_path)
        assert isinstance(model, _Tiny) and torch.equal(model.conv.weight, tensors["conv.weight"])
    finally:
        clear_model_cache("tiny")


def test_unknown_architectures_and_mismatched_weights_are_clear_errors(tmp_path):
    with pytest.raises(ArchitectureError, match="not known"):
        build_network("no_such_net", {})
    register_architecture("tiny_test_v1", _build_tiny)
    path = tmp_path / "tiny.safetensors"
    save_file({"conv.weight": torch.ones(3, 5)}, str(path))
    for name, architecture, width in (("a", "no_such_net", 5), ("b", "tiny_test_v1", 7)):
        entry = {"file": path.name, "sha256": sha256_file(path), "architecture": architecture,
                 "config": {"width": width}}
        (tmp_path / "manifest.json").write_text(json.dumps({"models": {name: entry}}))
        clear_model_cache(name)
        with pytest.raises(WeightsError, match="reinstall"):
            load_model(name, "cpu", folder=tmp_path)
