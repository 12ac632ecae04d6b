"""Texture synthesis: learn a texture from a sample, generate any size, tile seamlessly.

Modules
-------
gan
    A per-sample GAN (PSGAN / SGAN family): training with a time budget, resumable models that
    serialise to safetensors, generation at any size (tiled for large outputs), seamless tiles.
quilting
    Image quilting (Efros & Freeman 2001) with minimum-error boundary cuts, also seamless.
swd
    The multi-scale sliced Wasserstein distance between patch distributions, and a seam error.
bench
    The texture benchmark behind ``pixelmend bench texture``.

The ops that use them live in :mod:`engine.ops.texture_op`. Submodules are imported on demand,
so importing this package does not import torch.
"""

__all__ = ["bench", "gan", "quilting", "swd"]
