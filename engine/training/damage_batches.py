"""What the damage detector's recipe (:mod:`engine.training.damage`) trains and validates on.

Training batches are random crops of clean photos (:func:`engine.training.common.random_crop`
at a random scale) damaged on the fly by :func:`engine.training.damage_synth.synthesize`, with
the border map (:func:`engine.ops.detect.damage.border_map`) as a fourth input channel; the
loss is a weighted cross-entropy plus a soft Dice term; validation scores fixed damaged and clean
centre crops of held-out photos with :func:`engine.core.metrics.mask_match_counts`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from engine.core.metrics import mask_match_counts
from engine.core.pixels import to_float, to_tensor_batch
from engine.ops.detect.damage import border_map, propose_damage_mask
from engine.training.common import centre_crop, random_crop
from engine.training.damage_synth import (
    ALL_EDGES,
    NUISANCE_KINDS,
    WHOLE_PHOTO_SPEC,
    DamageSpec,
    synthesize,
)

if TYPE_CHECKING:
    import torch

__all__ = ["TOLERANCE", "BatchConfig", "DamageValidator", "batch_stream",
           "damage_loss", "deepen_stages", "fit_initial_weights", "make_batch", "widen_inputs"]

TOLERANCE = 2
"""Slack (px) of the validation precision and recall, as in the restore bench."""


class BatchConfig(Protocol):
    """What batches and validation read from the recipe's ``TrainConfig``."""

    border: bool
    crop: int
    batch: int
    gray_share: float
    scale: tuple[float, float]
    clean_share: float
    whole_share: float
    label_noise: float
    exposure: float
    frame: float
    val_crop: int
    val_threshold: float
    val_key: str


def make_batch(colour: Sequence[np.ndarray], gray: Sequence[np.ndarray], config: BatchConfig,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One training batch.

    Parameters
    ----------
    colour, gray : sequence of ndarray
        Clean ``uint8`` RGB photos (grey ones replicated); ``gray`` may be empty.
    config : BatchConfig
        Crop edge, batch size, shares of grey, clean and whole-print crops, scale range.
    rng : numpy.random.Generator
        Source of every random choice.

    Returns
    -------
    images : ndarray of float32, shape (N, C, S, S)
        Damaged crops, RGB, then the border map when ``config.border``.
    labels : ndarray of float32, shape (N, 1, S, S)
        1 where damage is visible, else 0.
    """
    spec = DamageSpec(clean_probability=config.clean_share, label_noise=config.label_noise)
    chances = dict(zip(NUISANCE_KINDS, spec.nuisance, strict=True), exposure=config.exposure,
                   frame=config.frame)
    spec = replace(spec, nuisance=tuple(chances.values()))
    channels = 4 if config.border else 3
    images = np.empty((config.batch, channels, config.crop, config.crop), np.float32)
    labels = np.empty((config.batch, 1, config.crop, config.crop), np.float32)
    for index in range(config.batch):
        pool = gray if gray and rng.random() < config.gray_share else colour
        photo = pool[int(rng.integers(len(pool)))]
        edges = ALL_EDGES
        if rng.random() >= config.whole_share:
            edges = tuple(bool(e) for e in rng.random(4) < 0.3)
        crop = random_crop(photo, config.crop, rng, scale=config.scale)
        sample = synthesize(np.clip(crop, 0, 1), rng, spec, edges=edges)
        images[index, :3] = sample.image.transpose(2, 0, 1)
        if config.border:
            images[index, 3] = border_map(sample.label.shape, edges)
        labels[index, 0] = sample.label
    return images, labels


def batch_stream(colour: Sequence[np.ndarray], gray: Sequence[np.ndarray], config: BatchConfig,
                 workers: int, seed: int, device: torch.device
                 ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless ``(images, labels)`` batches on ``device``, made by ``workers`` processes.

    Each worker draws from ``default_rng([seed, worker])``; ``seed`` should change on every
    resume so that a continued run does not replay the same crops.
    """
    import torch
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    class DamagedCrops(IterableDataset):
        def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            info = get_worker_info()
            rng = np.random.default_rng([seed, info.id if info is not None else 0])
            while True:
                images, labels = make_batch(colour, gray, config, rng)
                yield torch.from_numpy(images), torch.from_numpy(labels)

    loader = DataLoader(DamagedCrops(), batch_size=None, num_workers=workers,
                        pin_memory=device.type == "cuda", prefetch_factor=4,
                        persistent_workers=True)
    for images, labels in loader:
        yield images.to(device, non_blocking=True), labels.to(device, non_blocking=True)


def widen_inputs(state: dict[str, torch.Tensor], model: torch.nn.Module
                 ) -> dict[str, torch.Tensor]:
    """Weights of a network without the border input, fitted to one with it: the head's
    weights for the new input channels start at zero, so the network answers as before.

    Raises
    ------
    ValueError
        The head's shapes cannot be reconciled.
    """
    import torch

    head = state.get("head.weight")
    wanted = model.state_dict()["head.weight"]
    if head is None or head.shape == wanted.shape:
        return state
    if head.shape[0] != wanted.shape[0] or head.shape[1] > wanted.shape[1]:
        raise ValueError(f"cannot start from these weights: head {tuple(head.shape)} vs "
                         f"{tuple(wanted.shape)}")
    extra = torch.zeros(head.shape[0], wanted.shape[1] - head.shape[1], *head.shape[2:],
                        dtype=head.dtype)
    return {**state, "head.weight": torch.cat([head, extra], dim=1)}


_NEW_BLOCK_KEY = re.compile(
    r"^(encoders\.\d+|decoders\.\d+|bottleneck)\.\d+\.conv[12]\.(weight|bias)$")


def deepen_stages(state: dict[str, torch.Tensor], model: torch.nn.Module
                  ) -> dict[str, torch.Tensor]:
    """Weights of a network with fewer residual blocks per scale, fitted to one with more:
    each added block keeps its fresh first convolution and starts its second at zero, so it
    adds nothing to its input and the network answers as before until training moves it.

    Raises
    ------
    ValueError
        The model lacks weights that are not those of an added residual block.
    """
    import torch

    wanted = model.state_dict()
    missing = [key for key in wanted if key not in state]
    strange = [key for key in missing if not _NEW_BLOCK_KEY.match(key)]
    if strange:
        raise ValueError(f"cannot start from these weights: {strange[0]} is missing")
    added = {key: torch.zeros_like(wanted[key]) if ".conv2." in key else wanted[key].clone()
             for key in missing}
    return {**state, **added}


def fit_initial_weights(state: dict[str, torch.Tensor], model: torch.nn.Module
                        ) -> dict[str, torch.Tensor]:
    """Earlier weights fitted to ``model``: :func:`widen_inputs`, then :func:`deepen_stages`."""
    return deepen_stages(widen_inputs(state, model), model)


def damage_loss(logits: torch.Tensor, labels: torch.Tensor, dice_weight: float,
                pos_weight: float = 1.0) -> torch.Tensor:
    """Cross-entropy (damaged pixels weighted ``pos_weight``) plus ``dice_weight`` ×
    (1 − soft Dice over the batch)."""
    import torch

    weight = torch.tensor(pos_weight, dtype=logits.dtype, device=logits.device)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels,
                                                               pos_weight=weight)
    prob = torch.sigmoid(logits)
    dice = (2.0 * (prob * labels).sum() + 1.0) / (prob.sum() + labels.sum() + 1.0)
    return bce + dice_weight * (1.0 - dice)


class DamageValidator:
    """One damaged and one clean centre crop per held-out photo, damaged with fixed seeds.

    Calling it with a model gives ``val_precision``, ``val_recall`` and ``val_f1`` (pixels
    pooled over the damaged crops, :data:`TOLERANCE` px slack) and ``val_clean_marked`` (the
    share of the clean crops' pixels marked). When ``config.val_key`` is ``val_f1_photo`` it
    also scores each whole held-out photo, damaged as the restore bench damages them
    (:data:`engine.training.damage_synth.WHOLE_PHOTO_SPEC`), with the mask the
    op proposes (:func:`engine.ops.detect.damage.propose_damage_mask`: hysteresis, grown by
    1 px): ``val_precision_photo``, ``val_recall_photo``, ``val_f1_photo``. A crop misses
    what only a whole print shows (a torn corner, a hairline across it), so this is the
    figure that follows the restore benchmark.
    """

    def __init__(self, images: Sequence[np.ndarray], config: BatchConfig,
                 device: torch.device) -> None:
        self.device = device
        self.threshold = config.val_threshold
        self.items: list[tuple[bool, np.ndarray, np.ndarray]] = []
        self.photos: list[tuple[np.ndarray, np.ndarray]] = []
        spec = DamageSpec(label_noise=config.label_noise)
        photo_spec = replace(WHOLE_PHOTO_SPEC, label_noise=config.label_noise)
        for index, image in enumerate(images):
            clean = centre_crop(image, config.val_crop, 16)
            for damaged in (True, False):
                rng = np.random.default_rng([20_251, index, int(damaged)])
                sample = synthesize(clean, rng, spec, damaged=damaged)
                self.items.append((damaged, _planes(sample.image, config.border),
                                   sample.label))
            if config.val_key == "val_f1_photo":
                rng = np.random.default_rng([20_261, index])
                sample = synthesize(to_float(image), rng, photo_spec, damaged=True)
                self.photos.append((_planes(sample.image, config.border), sample.label))

    def __call__(self, model: torch.nn.Module) -> dict[str, Any]:
        import torch

        counts = np.zeros(4, np.int64)
        marked, clean_pixels = 0, 0
        model.eval()
        with torch.inference_mode():
            for damaged, image, label in self.items:
                x = to_tensor_batch(image[None], self.device)
                found = (torch.sigmoid(model(x))[0, 0] > self.threshold).cpu().numpy()
                if damaged:
                    counts += mask_match_counts(found, label, tolerance=TOLERANCE)
                else:
                    marked += int(found.sum())
                    clean_pixels += found.size
            photo_counts = np.zeros(4, np.int64)
            for image, label in self.photos:
                found = propose_damage_mask(self._whole(model, image), self.threshold, 1)
                photo_counts += mask_match_counts(found, label, tolerance=TOLERANCE)
        model.train()
        result = {"val_clean_marked": marked / max(clean_pixels, 1)}
        result.update(_scores(counts, ""))
        if self.photos:
            result.update(_scores(photo_counts, "_photo"))
        return result

    def _whole(self, model: torch.nn.Module, planes: np.ndarray) -> np.ndarray:
        """The damage probability of a whole photo (the network pads odd sizes itself)."""
        import torch

        x = to_tensor_batch(planes[None], self.device)
        return torch.sigmoid(model(x))[0, 0].cpu().numpy()


def _planes(image: np.ndarray, border: bool) -> np.ndarray:
    """The network's input: the image, and the border map as a fourth plane."""
    if border:
        image = np.concatenate([image, border_map(image.shape[:2])[:, :, None]], axis=2)
    return np.ascontiguousarray(image, dtype=np.float32)


def _scores(counts: np.ndarray, suffix: str) -> dict[str, float]:
    """Precision, recall and F1 from pooled :func:`mask_match_counts`."""
    precision = counts[0] / counts[1] if counts[1] else 0.0
    recall = counts[2] / counts[3] if counts[3] else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {f"val_precision{suffix}": float(precision), f"val_recall{suffix}": float(recall),
            f"val_f1{suffix}": float(f1)}
