"""Find and verify shipped model weights; load them as tensors. Never downloads anything.

Weights live in ``resources/models/`` as safetensors files listed in ``manifest.json``::

    {"models": {"<name>": {"file": "<name>.safetensors", "sha256": "...",
                           "architecture": "...", "config": {...}, ...}}}

Loading checks the file's SHA-256 against the manifest before any tensor is read, so a truncated
or swapped file gives a clear error instead of a broken model. No pickle is ever loaded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.resources import resources_dir

if TYPE_CHECKING:
    import torch

__all__ = [
    "ModelEntry",
    "WeightsError",
    "clear_model_cache",
    "list_models",
    "load_model",
    "load_state_dict",
    "model_entry",
    "models_dir",
    "sha256_file",
    "verify_weights",
]

MANIFEST = "manifest.json"

_MODELS: dict[tuple[str, str, str, Path | None], tuple[Any, ModelEntry]] = {}
_MODELS_LOCK = threading.Lock()


class WeightsError(RuntimeError):
    """A model's weights are missing, damaged or not listed.

    The message is one line that names the file (the weights or the manifest) and says what to
    do: reinstall PixelMend, or train the model with its recipe.
    """


@dataclass(frozen=True)
class ModelEntry:
    """One manifest entry."""

    name: str
    path: Path
    sha256: str
    architecture: str
    config: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def models_dir() -> Path:
    """The folder holding the weight files and their manifest."""
    return resources_dir() / "models"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsError(f"the model manifest {path} cannot be read ({error}); reinstall "
                           "PixelMend") from None
    models = data.get("models", {}) if isinstance(data, dict) else None
    if not isinstance(models, dict):
        raise WeightsError(f"the model manifest {path} is damaged ('models' is not an object);"
                           " reinstall PixelMend")
    return models


def list_models(folder: Path | None = None) -> list[str]:
    """Names of the models the manifest lists."""
    return sorted(_read_manifest(folder or models_dir()))


def model_entry(name: str, folder: Path | None = None) -> ModelEntry:
    """The manifest entry for ``name``; raise :class:`WeightsError` if it is not listed."""
    folder = folder or models_dir()
    models = _read_manifest(folder)
    if name not in models:
        raise WeightsError(
            f"model {name!r} is not installed (looked in {folder}); reinstall PixelMend or "
            f"train it with the recipe in engine/training/"
        )
    if not isinstance(models[name], dict):
        raise WeightsError(f"the model manifest {folder / MANIFEST} is damaged (the entry "
                           f"{name!r} is not an object); reinstall PixelMend")
    raw = dict(models[name])
    try:
        return ModelEntry(
            name=name,
            path=folder / raw.pop("file"),
            sha256=raw.pop("sha256"),
            architecture=raw.pop("architecture"),
            config=raw.pop("config", {}),
            meta=raw,
        )
    except KeyError as missing:
        raise WeightsError(f"the model manifest {folder / MANIFEST} is damaged (the entry "
                           f"{name!r} lacks {missing}); reinstall PixelMend") from None


@lru_cache(maxsize=16)
def _verified(path: Path, sha256: str, mtime_ns: int) -> None:
    actual = sha256_file(path)
    if actual != sha256:
        raise WeightsError(
            f"{path.name} is damaged (its checksum {actual[:12]}… is not the manifest's "
            f"{sha256[:12]}…; the file is {path}); reinstall PixelMend"
        )


def verify_weights(name: str, folder: Path | None = None) -> ModelEntry:
    """Check that a model's weights file is installed and intact, without loading it.

    The SHA-256 check is remembered per file version, so asking again is cheap.

    Raises
    ------
    WeightsError
        The model is not listed, its file is missing, or its checksum does not match; the
        message names the file and says to reinstall.
    """
    entry = model_entry(name, folder)
    if not entry.path.is_file():
        raise WeightsError(f"weights file {entry.path} is missing; reinstall PixelMend")
    _verified(entry.path, entry.sha256, entry.path.stat().st_mtime_ns)
    return entry


def load_state_dict(name: str, device: str | torch.device = "cpu",
                    folder: Path | None = None) -> tuple[dict[str, torch.Tensor], ModelEntry]:
    """Verify and load a model's weights.

    Parameters
    ----------
    name : str
        Manifest name of the model.
    device : str or torch.device
        Where to place the tensors.
    folder : Path, optional
        Models folder; defaults to :func:`models_dir`.

    Returns
    -------
    state_dict : dict of str to Tensor
    entry : ModelEntry

    Raises
    ------
    WeightsError
        The model is not listed, its file is missing, or its checksum does not match.
    """
    from safetensors.torch import load_file

    try:
        entry = verify_weights(name, folder)
        return load_file(str(entry.path), device=str(device)), entry
    except OSError as error:
        path = model_entry(name, folder).path
        raise WeightsError(f"{path.name} cannot be read ({error.strerror or error}; the file "
                           f"is {path}); reinstall PixelMend") from None
    except WeightsError:
        raise
    except Exception as error:  # safetensors' own errors: a file changed since the check
        path = model_entry(name, folder).path
        raise WeightsError(f"{path.name} cannot be read ({type(error).__name__}: {error}; "
                           f"the file is {path}); reinstall PixelMend") from None


def load_model(name: str, device: str | torch.device = "cpu", *,
               dtype: torch.dtype | None = None, folder: Path | None = None,
               build: Callable[[ModelEntry], torch.nn.Module] | None = None
               ) -> tuple[torch.nn.Module, ModelEntry]:
    """A shipped network, built, loaded and moved to ``device`` once, then cached.

    The network is built by the architecture the manifest entry names
    (:func:`engine.models.architectures.build_network` with the entry's ``config``). The cache is
    keyed by ``(name, device, dtype, folder)``; the weights are checksum-verified on the first
    load. The model is in eval mode with gradients off.

    Parameters
    ----------
    name : str
        Manifest name of the model.
    device : str or torch.device
        Where the model runs.
    dtype : torch.dtype, optional
        Cast the parameters to this type (e.g. ``torch.float16``); None keeps them as built.
    folder : Path, optional
        Models folder; defaults to :func:`models_dir`.
    build : callable, optional
        Makes the untrained network from the entry instead of the architecture registry
        (a model folder written by a test or a training run).

    Returns
    -------
    model : torch.nn.Module
    entry : ModelEntry

    Raises
    ------
    WeightsError
        The model is not listed, its file is missing or damaged, or its architecture is unknown.
    """
    import torch

    from engine.models.architectures import ArchitectureError, build_network

    target = torch.device(device)
    key = (name, str(target), str(dtype), folder)
    with _MODELS_LOCK:
        cached = _MODELS.get(key)
        if cached is None:
            state, entry = load_state_dict(name, "cpu", folder)
            try:
                model = build(entry) if build is not None else build_network(
                    entry.architecture, entry.config)
            except ArchitectureError as error:
                raise WeightsError(f"{entry.path.name}: {error} (the file is {entry.path}); "
                                   "reinstall PixelMend") from None
            try:
                model.load_state_dict(state)
            except RuntimeError as error:
                raise WeightsError(
                    f"{entry.path.name} does not fit the {entry.architecture} network "
                    f"({str(error).splitlines()[0]}; the file is {entry.path}); reinstall "
                    "PixelMend") from None
            model = model.to(target) if dtype is None else model.to(device=target, dtype=dtype)
            model = model.eval()
            for parameter in model.parameters():
                parameter.requires_grad_(False)
            cached = _MODELS[key] = (model, entry)
        return cached


def clear_model_cache(name: str | None = None) -> None:
    """Forget the models :func:`load_model` cached: those named ``name``, or all."""
    with _MODELS_LOCK:
        for key in [k for k in _MODELS if name is None or k[0] == name]:
            del _MODELS[key]
