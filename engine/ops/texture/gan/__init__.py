"""Per-sample texture GAN: training with a time budget, resumable models, generation at any size.

A :class:`TextureModel` is learnt from one sample image (PSGAN / SGAN family, see
:mod:`engine.ops.texture.net`): the generator maps a spatial noise field (local, global
and periodic channels) to texture, and a spectrally normalised patch discriminator, applied at
full and half resolution, judges random crops of the sample against generated crops with the
hinge loss (Adam, lr 2e-4, betas (0.5, 0.999)). The presets add a direct patch-statistics
term to the generator's loss (:mod:`engine.ops.texture.patch_loss`, a multi-scale sliced
Wasserstein distance between generated and real 5×5 neighbourhoods): in short CPU runs the
adversarial loss alone often left stripes, a wrong colour or a collapsed flat image.

Training stops after a time budget or a number of steps, reports progress with a generated
preview every few seconds, checks the cancel token at every step, and can continue from an
earlier model (the discriminator and the optimiser moments travel with it). A model serialises
to safetensors bytes with its config as JSON metadata (no pickle), and :data:`model_cache`
keeps recent models keyed by the sample's hash, so the op re-generates instantly with another
seed or size.

Generation feeds a noise field of the wanted size to the fully convolutional generator. Large
outputs are generated in tiles of the noise field, each grown by the generator's halo, so every
tile equals the matching window of a one-pass generation (no blending needed). Tileable output
uses a periodic noise field, wave vectors snapped to whole cycles and circular padding, so the
image repeats exactly. (:func:`engine.core.tiling.run_tiled_torch` is not used: it maps an image to
a same-size image and blends overlapping tiles, while here the input is a noise field at
1/16 of the output size and halo tiles agree exactly; the out-of-memory fallbacks are the
same: halve the tile, then finish on the CPU.)

Training speed on the CPU: the two finest scales pad with zeros while training (circular
padding copies every feature map), both networks run channels-last, and the generator's
batch-norm statistics are re-estimated with the final weights before a model is handed out.
"""


from engine.ops.texture.gan.generate import generate_texture
from engine.ops.texture.gan.model import (
    FORMAT,
    PRESETS,
    ModelCache,
    TextureGANConfig,
    TextureModel,
    default_train_seconds,
    model_cache,
    resolve_model_size,
    sample_hash,
)
from engine.ops.texture.gan.train import crop_positions, train_texture_gan

__all__ = [
    "FORMAT",
    "PRESETS",
    "ModelCache",
    "TextureGANConfig",
    "TextureModel",
    "crop_positions",
    "default_train_seconds",
    "generate_texture",
    "model_cache",
    "resolve_model_size",
    "sample_hash",
    "train_texture_gan",
]
