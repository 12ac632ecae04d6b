import pytest
import torch

from engine.core.device import (
    DeviceError,
    describe_device,
    is_out_of_memory,
    select_device,
    use_half_precision,
)


def test_environment_override_and_cpu_always_available(monkeypatch):
    monkeypatch.setenv("PIXELMEND_DEVICE", "cpu")
    assert select_device() == torch.device("cpu")
    assert select_device("cpu").type == "cpu"
    assert describe_device("cpu").startswith("CPU")
    assert not use_half_precision("cpu")


def test_unknown_or_absent_devices_are_explained(monkeypatch):
    monkeypatch.delenv("PIXELMEND_DEVICE", raising=False)
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="not available here"):
            select_device("cuda")


def test_out_of_memory_is_recognised():
    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
