import pytest
import torch

from engine.core.device import (
    DeviceError,
    Fallback,
    describe_device,
    is_out_of_memory,
    op_device,
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


def test_ops_run_on_a_device_they_support(monkeypatch):
    monkeypatch.delenv("PIXELMEND_DEVICE", raising=False)
    assert op_device(None, ("cpu",)) == "cpu"
    assert op_device("cpu", ("cpu", "cuda")) == "cpu"
    best = select_device()
    assert op_device(None, ("cpu", "cuda", "mps")) == str(best)
    assert op_device("auto", ("cpu",)) == "cpu"
    with pytest.raises(DeviceError, match="unknown device"):
        op_device("tpu", ("cpu",))


def test_fallback_halves_the_tile_then_moves_to_the_cpu():
    tries = []

    def work(where):
        tries.append((where.device.type, where.tile))
        if where.device.type != "cpu":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")
        return "done"

    fallback = Fallback("cuda", tile=512, min_tile=128)
    assert fallback.run(work) == "done"
    assert tries == [("cuda", 512), ("cuda", 256), ("cuda", 128), ("cpu", 512)]
    info = fallback.info()
    assert info["device"] == "cpu" and info["tile"] == 512 and len(info["fallbacks"]) == 3
    assert "tile reduced to 256" in info["fallbacks"][0]
    assert "finished on the CPU" in info["fallbacks"][-1]


def test_fallback_without_tiles_goes_straight_to_the_cpu_and_hides_nothing_else():
    calls = []

    def oom_once(where):
        calls.append(where.device.type)
        if where.device.type == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory")
        return 1

    fallback = Fallback("cuda")
    assert fallback.run(oom_once) == 1 and calls == ["cuda", "cpu"]
    assert "tile" not in fallback.info() and fallback.info()["device"] == "cpu"
    with pytest.raises(ValueError, match="not memory"):
        Fallback("cuda").run(lambda where: (_ for _ in ()).throw(ValueError("not memory")))
    with pytest.raises(RuntimeError, match="out of memory"):
        Fallback("cpu").run(lambda where: (_ for _ in ()).throw(
            RuntimeError("DefaultCPUAllocator: out of memory")))
