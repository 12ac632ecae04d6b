"""PixelMend's engine: image repair and generation algorithms, with no user interface.

Everything here works on numpy arrays (float32 ``H×W×C`` in ``[0, 1]``, masks ``bool H×W``)
and never imports Qt. torch is imported only when an op that needs it runs.

Typical use::

    from engine import io, run_op, to_float
    loaded = io.load("scan.png")
    result = run_op("adaptive_median", to_float(loaded.pixels[..., :3]))

The layout is the map: :mod:`engine.core` (one place per contract), :mod:`engine.io` (files),
:mod:`engine.models` (weights, architectures), :mod:`engine.ops` (one package per family),
:mod:`engine.cli` (the command line); :mod:`engine.bench` and :mod:`engine.training` use the
runtime and nothing in the runtime uses them.
"""

from engine import io
from engine.core.metrics import masked_psnr, masked_ssim, psnr, ssim
from engine.core.params import Bool, Choice, Float, Int, ParamError, Seed
from engine.core.pixels import from_float, to_float
from engine.core.progress import Cancelled, CancelToken
from engine.core.recipe import Recipe, load_recipe
from engine.ops import Op, OpError, OpResult, all_ops, get_op, op_names, register, run_op
from engine.version import __version__

__all__ = [
    "Bool",
    "CancelToken",
    "Cancelled",
    "Choice",
    "Float",
    "Int",
    "Op",
    "OpError",
    "OpResult",
    "ParamError",
    "Recipe",
    "Seed",
    "__version__",
    "all_ops",
    "from_float",
    "get_op",
    "io",
    "load_recipe",
    "masked_psnr",
    "masked_ssim",
    "op_names",
    "psnr",
    "register",
    "run_op",
    "ssim",
    "to_float",
]
