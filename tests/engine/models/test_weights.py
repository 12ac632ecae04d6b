import json

import pytest
import torch
from safetensors.torch import save_file

from engine.models.weights import (
    WeightsError,
    clear_model_cache,
    list_models,
    load_model,
    load_state_dict,
    model_entry,
    sha256_file,
)


@pytest.fixture
def models(tmp_path):
    tensors = {"conv.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4)}
    path = tmp_path / "tiny.safetensors"
    save_file(tensors, str(path))
    manifest = {"models": {"tiny": {"file": path.name, "sha256": sha256_file(path),
                                    "architecture": "TinyNet", "config": {"width": 4},
                                    "training": {"steps": 1}}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path, tensors


def test_verified_weights_load_exactly(models):
    folder, tensors = models
    state, entry = load_state_dict("tiny", folder=folder)
    assert torch.equal(state["conv.weight"], tensors["conv.weight"])
    assert entry.architecture == "TinyNet" and entry.config == {"width": 4}
    assert entry.meta == {"training": {"steps": 1}}
    assert list_models(folder) == ["tiny"]


def test_a_damaged_file_is_refused(models):
    folder, _ = models
    path = folder / "tiny.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="damaged"):
        load_state_dict("tiny", folder=folder)


def test_missing_model_and_missing_file(models):
    folder, _ = models
    with pytest.raises(WeightsError, match="'other' is not installed"):
        model_entry("other", folder)
    (folder / "tiny.safetensors").unlink()
    with pytest.raises(WeightsError, match="missing"):
        load_state_dict("tiny", folder=folder)


def test_load_model_builds_once_per_name_and_device(models):
    folder, tensors = models
    built = []

    def build(entry):
        built.append(entry.config)
        net = torch.nn.Module()
        net.conv = torch.nn.Linear(4, 3, bias=False)
        return net

    clear_model_cache("tiny")
    try:
        model, entry = load_model("tiny", "cpu", folder=folder, build=build)
        assert built == [{"width": 4}] and entry.name == "tiny"
        assert torch.equal(model.conv.weight, tensors["conv.weight"])
        assert not model.training and not model.conv.weight.requires_grad
        assert load_model("tiny", "cpu", folder=folder, build=build)[0] is model
        assert len(built) == 1
        half, _ = load_model("tiny", "cpu", dtype=torch.float16, folder=folder, build=build)
        assert half is not model and half.conv.weight.dtype == torch.float16
        clear_model_cache("tiny")
        assert load_model("tiny", "cpu", folder=folder, build=build)[0] is not model
        assert len(built) == 3
    finally:
        clear_model_cache("tiny")
