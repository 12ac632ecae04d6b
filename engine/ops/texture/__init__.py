"""Texture synthesis: learn a texture from a sample (per-sample GAN), generate any size, tile
seamlessly, fill a mask; patch-based synthesis (quilting, PatchMatch) beside it."""
