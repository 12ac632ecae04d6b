"""The ops: one sub-package per family, each holding its algorithms, its networks and its ops.

- :mod:`~engine.ops.classical`: filters, salt-and-pepper repair, deconvolution.
- :mod:`~engine.ops.detect`: edges, template matching, damage detection → mask proposals.
- :mod:`~engine.ops.denoise`: the learned denoiser and the noise-level estimate.
- :mod:`~engine.ops.inpaint`: filling a mask (learned, exemplar, diffusion).
- :mod:`~engine.ops.patchmatch`: the one PatchMatch core (search, propagate, vote) that
  inpainting and texture synthesis share.
- :mod:`~engine.ops.texture`: texture synthesis (GAN, quilting, PatchMatch).

Every module named ``*_op.py`` in a family package is imported on first use of the registry and
registers its ops (discovery by file suffix: a new family is a new package, with no list to
maintain). Family packages import torch inside functions only, so listing ops stays cheap.
"""

from __future__ import annotations

import importlib
import pkgutil

from engine.ops.registry import (
    Op,
    OpError,
    OpResult,
    all_ops,
    get_op,
    op_names,
    register,
    run_op,
)

__all__ = ["Op", "OpError", "OpResult", "all_ops", "get_op", "op_names", "register", "run_op"]


def _op_modules() -> list[str]:
    """Dotted names of every ``*_op`` module in the family sub-packages, sorted."""
    names = []
    for family in pkgutil.iter_modules(__path__):
        if not family.ispkg:
            continue
        package = importlib.import_module(f"{__name__}.{family.name}")
        names += [f"{package.__name__}.{module.name}"
                  for module in pkgutil.iter_modules(package.__path__)
                  if module.name.endswith("_op")]
    return sorted(names)


for _module in _op_modules():
    importlib.import_module(_module)
