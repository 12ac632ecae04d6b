"""Learned denoising: the noise-level-conditioned network (:mod:`~engine.ops.denoise.net`), its
runtime (:mod:`~engine.ops.denoise.denoiser`), the blind noise estimate
(:mod:`~engine.ops.denoise.noise_level`) and the ``denoise`` op."""

from engine.models.architectures import register_architecture

ARCHITECTURE = "denoise_unet_v1"
"""Name recorded in the weights manifest for the network with a one-channel noise map."""
ARCHITECTURE_V2 = "denoise_unet_v2"
"""The same network with a two-channel map (luma σ, chroma σ); the shipped denoiser's."""

register_architecture(ARCHITECTURE, "engine.ops.denoise.net:build_denoiser")
register_architecture(ARCHITECTURE_V2, "engine.ops.denoise.net:build_denoiser_v2")
