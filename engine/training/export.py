"""Exporting a training run: the EMA weights as safetensors, and the model's manifest entry."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.atomic import atomic_write

if TYPE_CHECKING:
    import torch

from engine.training.common import config_from, load_checkpoint

__all__ = ["export_run", "export_weights", "merge_manifest_entry"]


def export_weights(state: Mapping[str, Any], out_dir: Path, name: str, architecture: str
                   ) -> tuple[Path, dict[str, torch.Tensor]]:
    """Write a checkpoint's EMA weights (float32) to ``out_dir/<name>.safetensors``.

    Returns
    -------
    path : Path
    tensors : dict of str to Tensor
    """
    from safetensors.torch import save_file

    tensors = {k: v.detach().float().contiguous() for k, v in state["ema"].items()}
    path = Path(out_dir) / f"{name}.safetensors"
    save_file(tensors, str(path), metadata={"architecture": architecture,
                                            "step": str(state["step"])})
    path.chmod(0o644)
    return path, tensors


def merge_manifest_entry(out_dir: Path, name: str, entry: dict[str, Any]) -> None:
    """Read the manifest, set ``models[name] = entry``, write it back atomically.

    Other models' entries (written by other recipes) are kept as they are.
    """
    from engine.models.weights import MANIFEST

    manifest_path = Path(out_dir) / MANIFEST
    manifest: dict[str, Any] = {"models": {}}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest.setdefault("models", {})
    manifest["models"][name] = entry
    manifest["models"] = dict(sorted(manifest["models"].items()))
    with atomic_write(manifest_path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(manifest, indent=2) + "\n")


def export_run(run_dir: Path, out_dir: Path | None, *, name: str, checkpoint: str,
               quality: dict[str, Any] | None, architecture: str, task: str, recipe: str,
               config_type: Callable[..., Any],
               describe: Callable[[Mapping[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Write a run's checkpoint as safetensors into ``out_dir`` and merge its manifest entry.

    Parameters
    ----------
    run_dir : Path
        The training run folder.
    out_dir : Path, optional
        The models folder; :func:`engine.models.weights.models_dir` by default.
    name : str
        Manifest name; the file is ``<name>.safetensors``.
    checkpoint : str
        ``best.pt`` or ``last.pt``.
    quality : dict, optional
        Measured benchmark figures to record.
    architecture, task : str
        The registered architecture name and the kind of model (``"denoise"`` ...).
    recipe : str
        The recipe's module name (``"denoise"``), recorded with its train config.
    config_type : callable
        The recipe's ``TrainConfig`` (it has ``model_config()``).
    describe : callable
        Recipe-specific entry fields (data, validation figures) from the checkpoint state.

    Returns
    -------
    dict
        The manifest entry written.
    """
    from engine.models.weights import models_dir, sha256_file

    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else models_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    state = load_checkpoint(run_dir / checkpoint)
    config = config_from(config_type, state["config"])
    path, tensors = export_weights(state, out_dir, name, architecture)
    entry: dict[str, Any] = {
        "file": path.name,
        "sha256": sha256_file(path),
        "architecture": architecture,
        "config": config.model_config(),
        "task": task,
        "parameters": int(sum(t.numel() for t in tensors.values())),
        **describe(state),
        "recipe": f"engine/training/{recipe}.py, train config {json.dumps(asdict(config))}",
        "steps": int(state["step"]),
        "hardware": state["hardware"],
        "train_minutes": round(float(state["elapsed"]) / 60.0, 1),
        "exported": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if quality:
        entry["quality"] = quality
    merge_manifest_entry(out_dir, name, entry)
    return entry
