"""The one PatchMatch core that inpainting and texture synthesis share.

:class:`~engine.ops.patchmatch.field.PatchField` is one pyramid level's nearest-neighbour field
with its three moves (search: propagation and random search; vote; coarse-to-fine
upsampling), for a dense target (a texture, periodic or not) or the patches around a hole.
:mod:`engine.ops.texture.synthesis` rebuilds textures with it and
:mod:`engine.ops.inpaint.exemplar` fills holes with it.
"""

from engine.ops.patchmatch.field import VOTE_QUANTILE, PatchField, match_histogram

__all__ = ["VOTE_QUANTILE", "PatchField", "match_histogram"]
