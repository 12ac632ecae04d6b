"""Inpainting: exemplar completion (PatchMatch), a learned network, training masks, the bench.

Submodules import torch only inside functions, so importing this package stays cheap:

- :mod:`engine.inpainting.patchmatch`: multi-scale PatchMatch completion with coherence voting.
- :mod:`engine.inpainting.learned`: the shipped Fourier-convolution network, run on crops.
- :mod:`engine.inpainting.diffusion`: OpenCV Telea / Navier–Stokes at float precision.
- :mod:`engine.inpainting.masks`: random free-form hole masks (strokes, blobs, scratches).
- :mod:`engine.inpainting.bench`: masked PSNR/SSIM per hole-size bin against OpenCV and G'MIC.
"""
