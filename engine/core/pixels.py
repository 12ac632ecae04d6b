"""The only dtype, layout and tensor conversions in the engine.

Engine ops work on ``float32`` arrays ``H×W×C`` (C = 1 or 3) in ``[0, 1]``, sRGB-encoded.
Files and documents hold ``uint8`` or ``uint16``; alpha travels beside the colour channels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = [
    "check_image",
    "from_float",
    "from_tensor",
    "join_alpha",
    "split_alpha",
    "to_float",
    "to_gray",
    "to_tensor",
    "to_tensor_batch",
    "to_uint8",
]

_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def check_image(image: np.ndarray, *, name: str = "image") -> None:
    """Raise if ``image`` does not follow the engine pixel contract (float32 H×W×C, C in 1/3)."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.float32:
        raise TypeError(f"{name} must be float32 in [0, 1], got {image.dtype}")
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"{name} must be H×W×1 or H×W×3, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name} is empty (shape {image.shape})")


def to_float(pixels: np.ndarray) -> np.ndarray:
    """Convert ``uint8``/``uint16``/float pixels to ``float32`` in ``[0, 1]`` with a channel axis.

    A 2-D array gains a trailing channel axis. The input is never modified.
    """
    array = np.asarray(pixels)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.dtype in _SCALE:
        return array.astype(np.float32) / np.float32(_SCALE[array.dtype])
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.floating):
        return np.clip(array, 0.0, 1.0).astype(np.float32, copy=True)
    raise TypeError(f"unsupported pixel type {array.dtype}; expected uint8, uint16 or float")


def from_float(image: np.ndarray, dtype: np.dtype | type = np.uint8) -> np.ndarray:
    """Round ``[0, 1]`` floats to ``uint8`` or ``uint16`` (values outside are clipped)."""
    dtype = np.dtype(dtype)
    if dtype not in _SCALE:
        raise TypeError(f"can only convert to uint8 or uint16, not {dtype}")
    scale = _SCALE[dtype]
    scaled = np.clip(image, 0.0, 1.0) * np.float32(scale)  # one float temporary, not three
    return np.rint(scaled, out=scaled).astype(dtype)


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Any supported pixel array as ``uint8`` with the same layout."""
    array = np.asarray(pixels)
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return from_float(to_float(array), np.uint8).reshape(array.shape)


def split_alpha(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Split ``H×W×4`` (or ``H×W×2``) pixels into colour and an ``H×W×1`` alpha plane."""
    if pixels.ndim == 3 and pixels.shape[2] in (2, 4):
        return pixels[:, :, :-1], pixels[:, :, -1:]
    return pixels, None


def join_alpha(colour: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Re-attach an alpha plane (of the same dtype) after the colour channels."""
    if alpha is None:
        return colour
    if colour.ndim == 2:
        colour = colour[:, :, None]
    if alpha.ndim == 2:
        alpha = alpha[:, :, None]
    return np.concatenate([colour, alpha.astype(colour.dtype)], axis=2)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Luma (Rec. 601 weights) of a float ``H×W×C`` image as ``H×W`` float32."""
    if image.shape[2] == 1:
        return image[:, :, 0]
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return (image[:, :, :3] @ weights).astype(np.float32)


def to_tensor(image: np.ndarray, device: torch.device | str = "cpu",
              dtype: torch.dtype | None = None) -> torch.Tensor:
    """``H×W×C`` float array → ``1×C×H×W`` tensor on ``device``."""
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    return tensor.to(device=device, dtype=dtype or torch.float32)


def to_tensor_batch(images: np.ndarray, device: torch.device | str = "cpu",
                    dtype: torch.dtype | None = None) -> torch.Tensor:
    """``N×H×W×C`` (or ``N×H×W``, one channel) float array → ``N×C×H×W`` tensor on ``device``."""
    import torch

    array = np.asarray(images)
    if array.ndim == 3:
        array = array[..., None]
    tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2)))
    return tensor.to(device=device, dtype=dtype or torch.float32)


def from_tensor(tensor: torch.Tensor) -> np.ndarray:
    """``1×C×H×W`` (or ``C×H×W``) tensor → ``H×W×C`` float32 array on the host."""
    if tensor.ndim == 4:
        tensor = tensor[0]
    return tensor.detach().float().cpu().numpy().transpose(1, 2, 0).copy()
