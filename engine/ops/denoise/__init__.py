"""Learned denoising: the noise-level-conditioned network (:mod:`~engine.ops.denoise.net`), its
runtime (:mod:`~engine.ops.denoise.denoiser`), the blind noise estimate
(:mod:`~engine.ops.denoise.noise_level`) and the ``denoise`` op."""

from engine.models.architectures import register_architecture

ARCHITECTURE = "denoise_unet_v1"
"""Name recorded in the weights manifest for the denoiser network."""

register_architecture(ARCHITECTURE, "engine.ops.denoise.net:build_denoiser")
