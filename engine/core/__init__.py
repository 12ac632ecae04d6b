"""One place for each contract every part of the engine shares.

- :mod:`~engine.core.pixels`: the pixel contract and every dtype, layout and tensor conversion.
- :mod:`~engine.core.masks`: masks — validation, bounding boxes, crops around them, the blend
  that confines a result to its mask.
- :mod:`~engine.core.device`: choosing the compute device, and the one out-of-memory fallback.
- :mod:`~engine.core.tiling`: tiled processing with blended overlaps.
- :mod:`~engine.core.progress`: progress callbacks, cancel tokens and the one throttle.
- :mod:`~engine.core.params`: typed parameter specs.
- :mod:`~engine.core.recipe`: recipes, single-step and multi-step, as JSON.
- :mod:`~engine.core.metrics`, :mod:`~engine.core.swd`: fidelity and patch-distribution measures.
- :mod:`~engine.core.atomic`: atomic file writes; :mod:`~engine.core.resources`: shipped files.

Nothing here imports another part of the engine, and torch is imported inside functions only.
"""
