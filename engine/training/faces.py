"""Training recipe of the face detector (``resources/models/face_detector.safetensors``).

No face data set ships with OpenCV 5 (its wheel has no cascades) or anywhere on this machine,
so the detector's template is trained from faces marked by hand on the benchmark photos of
``../shared/data``: the boxes, and the photos that hold no people, are in
``engine/training/data/faces_train.json``; none of those photos is in the bench's evaluation
set. Every fifth marked photo is held out to choose the default sensitivity.

1. Windows: each marked face is cut ``PER_FACE`` times as a 32×32 window (with a 1 px frame
   for its gradients) of the equalised luma (:func:`engine.ops.privacy.faces.detection_plane`),
   shifted, scaled, turned a little and mirrored at random, with random gamma, contrast, blur
   and noise (a photo stored on its side is first turned upright, as ``turns`` in the file
   says); negatives are random windows of every size from the photos without people, and
   windows of the marked photos that overlap no face by more than a little (half faces, faces
   at the wrong scale). Each window becomes its HOG features
   (:mod:`engine.ops.privacy.facemodel`).
2. Training: logistic regression of the template (binary cross-entropy, Adam, weight decay),
   each batch one positive for three negatives.
3. Hard negatives: the detector runs over the photos without people; windows it still calls
   faces join the negatives and training goes on. Twice.
4. Held-out check: recall at IoU ≥ 0.3 and the number of boxes found on the held-out marked
   photos for a few sensitivities.

Run ``python -m engine.training.faces --data ../shared/data --run-dir runs/faces`` (a few
minutes on one CPU core), then the same with ``--export`` to write the weights and the
manifest entry.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine import io
from engine.core.pixels import to_float
from engine.ops.privacy import ARCHITECTURE, MODEL_NAME
from engine.ops.privacy.facemodel import GROUPS, WINDOW, FaceTemplate, hog_groups, window_groups
from engine.ops.privacy.faces import (
    FACE_FRACTION,
    detect_faces,
    detection_plane,
    iou,
    pyramid_scales,
)

__all__ = ["export", "held_out_scores", "main", "train"]

ANNOTATIONS = Path(__file__).with_name("data") / "faces_train.json"
PER_FACE = 300
NEGATIVES_PER_IMAGE = 100
MAX_SIDE = 1024
HIDDEN = 0
SCHEDULE = (3000, 2000, 2000)  # steps before the first mining, after it, after the second
BATCH = 512
LR = 1e-2
WEIGHT_DECAY = 1e-4


def _photo(data: Path, name: str, turns: dict[str, int]) -> np.ndarray:
    """A marked photo as float, turned upright: ``turns[name]`` quarter turns counter-clockwise
    (portraits stored on their side; their boxes are marked on the upright photo)."""
    image = to_float(io.load(data / name).pixels)
    image = image[:, :, :3] if image.shape[2] >= 3 else image[:, :, :1]
    return np.ascontiguousarray(np.rot90(image, turns.get(name, 0)))


def _load(data: Path, name: str, turns: dict[str, int] | None = None
          ) -> tuple[np.ndarray, float]:
    return detection_plane(_photo(data, name, turns or {}), MAX_SIDE)


def _window(plane: np.ndarray, cx: float, cy: float, side: float, angle: float,
            flip: bool) -> np.ndarray:
    """The ``side``-px square centred at (cx, cy), turned by ``angle`` degrees, resampled to
    ``WINDOW`` px with a 1 px frame."""
    scale = WINDOW / side
    framed = WINDOW + 2
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    matrix[:, 2] += (framed / 2 - cx, framed / 2 - cy)
    out = cv2.warpAffine(plane, matrix, (framed, framed), flags=cv2.INTER_AREA
                         if scale < 1 else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return np.ascontiguousarray(out[:, ::-1]) if flip else out


def _photometric(window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random gamma, contrast, blur and noise."""
    window = np.clip(window, 1e-4, 1.0) ** float(np.exp(rng.normal(0, 0.25)))
    mean = float(window.mean())
    window = (window - mean) * rng.uniform(0.6, 1.2) + mean
    if rng.random() < 0.3:
        window = cv2.GaussianBlur(window, (0, 0), rng.uniform(0.5, 1.2))
    window = window + rng.normal(0, rng.uniform(0, 0.05), window.shape)
    return np.clip(window, 0, 1).astype(np.float32)


def _positives(plane: np.ndarray, boxes: list[list[float]], rng: np.random.Generator
               ) -> list[np.ndarray]:
    out = []
    for x0, y0, x1, y1 in boxes:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        face = float(np.sqrt((x1 - x0) * (y1 - y0)))
        for _ in range(PER_FACE):
            window = _window(plane, cx + rng.normal(0, face * 0.06),
                             cy + rng.normal(0, face * 0.06),
                             face / FACE_FRACTION * float(np.exp(rng.normal(0, 0.08))),
                             float(np.clip(rng.normal(0, 8), -20, 20)), bool(rng.random() < .5))
            out.append(window_groups(_photometric(window, rng)))
    return out


def _negatives(plane: np.ndarray, boxes: list[list[float]], count: int,
               rng: np.random.Generator) -> list[np.ndarray]:
    height, width = plane.shape
    out: list[np.ndarray] = []
    tries = 0
    while len(out) < count and tries < 20 * count:
        tries += 1
        side = float(np.exp(rng.uniform(np.log(20), np.log(min(height, width)))))
        cx, cy = rng.uniform(side / 2, width - side / 2), rng.uniform(side / 2, height - side / 2)
        if boxes and rng.random() < 0.5:
            # Near a face: shifted by half a face or more, or at another scale.
            x0, y0, x1, y1 = boxes[int(rng.integers(len(boxes)))]
            face = float(np.sqrt((x1 - x0) * (y1 - y0)))
            side = face / FACE_FRACTION * float(np.exp(rng.choice([-1, 1]) * rng.uniform(.5, 1)))
            cx = (x0 + x1) / 2 + rng.normal(0, face * 0.6)
            cy = (y0 + y1) / 2 + rng.normal(0, face * 0.6)
        half = side * FACE_FRACTION / 2
        if any(iou((cx - half, cy - half, cx + half, cy + half), box) > 0.25 for box in boxes):
            continue
        window = _window(plane, cx, cy, side, 0.0, bool(rng.random() < .5))
        out.append(window_groups(_photometric(window, rng) if rng.random() < .5 else window))
    return out


def _fit(model: Any, positives: np.ndarray, negatives: np.ndarray, steps: int, lr: float,
         seed: int, log: list[dict[str, Any]], deadline: float) -> None:
    import torch

    generator = torch.Generator().manual_seed(seed)
    pos = torch.from_numpy(positives).permute(0, 3, 1, 2)
    neg = torch.from_numpy(negatives).permute(0, 3, 1, 2)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, lr, total_steps=steps,
                                                   pct_start=0.1)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    quarter = BATCH // 4
    model.train()
    running = 0.0
    for step in range(steps):
        pi = torch.randint(len(pos), (quarter,), generator=generator)
        ni = torch.randint(len(neg), (BATCH - quarter,), generator=generator)
        batch = torch.cat([pos[pi], neg[ni]]).float()
        target = torch.cat([torch.ones(quarter), torch.zeros(BATCH - quarter)])
        loss = loss_fn(model(batch).flatten(), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        running += float(loss.detach())
        if (step + 1) % 500 == 0:
            log.append({"step": step + 1, "loss": round(running / 500, 4)})
            running = 0.0
        if time.monotonic() > deadline:
            break
    model.eval()


def _hard_negatives(model: Any, planes: list[np.ndarray], threshold: float, cap: int
                    ) -> list[np.ndarray]:
    """HOG windows of ``planes`` (photos without people) that the model calls faces."""
    import torch

    found: list[np.ndarray] = []
    rng = np.random.default_rng(len(planes))
    for plane in planes:
        windows = []
        for scale in pyramid_scales(plane.shape, 20.0):
            size = (max(WINDOW, round(plane.shape[1] * scale)),
                    max(WINDOW, round(plane.shape[0] * scale)))
            level = cv2.resize(plane, size, interpolation=cv2.INTER_AREA if scale < 1
                               else cv2.INTER_LINEAR)
            for view in (level, np.ascontiguousarray(level[:, ::-1])):
                groups = hog_groups(view)
                with torch.inference_mode():
                    logits = model(torch.from_numpy(groups.transpose(2, 0, 1).copy())[None])
                probability = torch.sigmoid(logits)[0, 0].numpy()
                for row, col in zip(*np.nonzero(probability >= threshold), strict=True):
                    windows.append(groups[row:row + GROUPS, col:col + GROUPS])
        if len(windows) > cap:
            windows = [windows[k] for k in rng.choice(len(windows), cap, replace=False)]
        found += windows
    return found


def held_out_scores(net: Any, data: Path, held_out: dict[str, list[list[float]]],
                    sensitivities: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7),
                    turns: dict[str, int] | None = None) -> dict[str, dict[str, float]]:
    """Faces matched (IoU ≥ 0.3), boxes found and recall on the held-out marked images, per
    sensitivity."""
    from engine.ops.privacy.facemodel import score_plane

    def scorer(plane: np.ndarray) -> np.ndarray:
        return score_plane(net, plane)

    images = {name: _photo(data, name, turns or {}) for name in held_out}
    table = {}
    for sensitivity in sensitivities:
        hits = found = truth = 0
        for name, boxes in held_out.items():
            faces, _ = detect_faces(images[name], sensitivity=sensitivity, scorer=scorer)
            found += len(faces)
            truth += len(boxes)
            matched = {j for face in faces for j, box in enumerate(boxes) if iou(face, box) >= .3}
            hits += len(matched)
        table[str(sensitivity)] = {"recall": round(hits / max(truth, 1), 3), "matched": hits,
                                   "found": found, "faces": truth}
    return table


def train(data: Path, run_dir: Path, *, annotations: Path = ANNOTATIONS, seed: int = 0,
          minutes: float | None = None, hidden: int = HIDDEN) -> dict[str, Any]:
    """Train the detector and save ``run_dir/face_detector.safetensors`` and a summary."""
    import torch
    from safetensors.torch import save_file

    started = time.monotonic()
    deadline = started + 60 * minutes if minutes else float("inf")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    marked = json.loads(annotations.read_text())
    turns = marked.get("turns", {})
    names = sorted(marked["faces"])
    held_out = {n: marked["faces"][n] for n in names[4::5]}
    training = {n: marked["faces"][n] for n in names if n not in held_out}
    positives: list[np.ndarray] = []
    negatives: list[np.ndarray] = []
    for name, boxes in training.items():
        plane, scale = _load(data, name, turns)
        scaled = [[v * scale for v in box] for box in boxes]
        positives += _positives(plane, scaled, rng)
        negatives += _negatives(plane, scaled, NEGATIVES_PER_IMAGE, rng)
    empty = [_load(data, name)[0] for name in marked["negatives"]]
    for plane in empty:
        negatives += _negatives(plane, [], NEGATIVES_PER_IMAGE, rng)
    pos, neg = np.stack(positives), np.stack(negatives)
    net = FaceTemplate(hidden)
    log: list[dict[str, Any]] = []
    rounds = []
    for round_index, steps in enumerate(SCHEDULE):
        if round_index:
            hard = _hard_negatives(net, empty[round_index - 1::2], 0.5, 300)
            rounds.append(len(hard))
            if hard:
                neg = np.concatenate([neg, np.stack(hard)])
        _fit(net, pos, neg, steps, LR if round_index == 0 else LR / 3, seed + round_index, log,
             deadline)
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().float().contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(run_dir / f"{MODEL_NAME}.safetensors"),
              metadata={"architecture": ARCHITECTURE})
    summary = {
        "training_images": len(training), "training_faces": sum(map(len, training.values())),
        "held_out_images": len(held_out), "negative_images": len(empty),
        "positive_windows": len(pos), "negative_windows": len(neg), "hard_negatives": rounds,
        "minutes": round((time.monotonic() - started) / 60, 1), "log": log,
        "held_out": held_out_scores(net, data, held_out, turns=turns),
        "parameters": sum(int(p.numel()) for p in net.parameters()), "hidden": hidden,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def export(run_dir: Path, out_dir: Path | None, data: Path) -> dict[str, Any]:
    """Copy the run's weights into the models folder and write their manifest entry (with the
    held-out figures measured again at the current sensitivity scale)."""
    import shutil

    from safetensors.torch import load_file

    from engine.models.weights import models_dir, sha256_file
    from engine.training.export import merge_manifest_entry

    out_dir = out_dir or models_dir()
    target = out_dir / f"{MODEL_NAME}.safetensors"
    shutil.copyfile(run_dir / f"{MODEL_NAME}.safetensors", target)
    target.chmod(0o644)
    summary = json.loads((run_dir / "summary.json").read_text())
    entry_model = FaceTemplate(summary.get("hidden", 0))
    entry_model.load_state_dict(load_file(str(run_dir / f"{MODEL_NAME}.safetensors")))
    annotations = json.loads(ANNOTATIONS.read_text())
    marked = annotations["faces"]
    # Measured again here: the sensitivity scale may have been set after training.
    held_out = {n: marked[n] for n in sorted(marked)[4::5]}
    summary["held_out"] = held_out_scores(entry_model.eval(), data, held_out,
                                          turns=annotations.get("turns", {}))
    entry = {
        "file": target.name, "sha256": sha256_file(target), "architecture": ARCHITECTURE,
        "config": {"hidden": summary.get("hidden", 0)},
        "task": "face window template (detect_faces)",
        "parameters": summary["parameters"],
        "training_data": (f"{summary['training_faces']} hand-marked faces in "
                          f"{summary['training_images']} photos of cbsd432, "
                          f"{summary['negative_images']} photos without people "
                          "(engine/training/data/faces_train.json)"),
        "recipe": "engine/training/faces.py", "train_minutes": summary["minutes"],
        "held_out": summary["held_out"],
        "held_out_note": (f"every fifth marked photo ({len(held_out)} photos, "
                          f"{sum(len(b) for b in held_out.values())} faces), never trained "
                          "on; found = boxes proposed, matched = marked faces hit at "
                          "IoU >= 0.3"),
    }
    merge_manifest_entry(out_dir, MODEL_NAME, entry)
    return entry


def main(argv: list[str] | None = None) -> int:
    """Command line: train, or ``--export`` a finished run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--run-dir", type=Path, default=Path("runs/faces"))
    parser.add_argument("--annotations", type=Path, default=ANNOTATIONS)
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=HIDDEN,
                        help="hidden channels of the template (0: linear)")
    parser.add_argument("--export", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.export:
        print(json.dumps(export(args.run_dir, args.out, args.data), indent=1))
        return 0
    summary = train(args.data, args.run_dir, annotations=args.annotations, seed=args.seed,
                    minutes=args.minutes, hidden=args.hidden)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
