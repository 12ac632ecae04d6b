"""Inpainting: fill a mask from its surroundings.

- :mod:`~engine.ops.inpaint.methods`: the fill methods (learned, exemplar, Telea,
  Navier–Stokes) and the ``auto`` rule; :mod:`~engine.ops.inpaint.regions`: crops around holes.
- :mod:`~engine.ops.inpaint.learned` and :mod:`~engine.ops.inpaint.net`: the shipped network.
- :mod:`~engine.ops.inpaint.exemplar`: PatchMatch completion on the shared core.
- :mod:`~engine.ops.inpaint.diffusion`: OpenCV's diffusion methods at float precision.
"""

from engine.models.architectures import register_architecture

ARCHITECTURE = "inpaint_ffc_v1"
"""Name recorded in the weights manifest for the inpainting network."""

register_architecture(ARCHITECTURE, "engine.ops.inpaint.net:build_inpaint_net")
