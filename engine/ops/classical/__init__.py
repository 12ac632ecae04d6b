"""Classical repair: smoothing and sharpening filters, impulse (salt-and-pepper) repair,
deconvolution (Wiener, Richardson–Lucy)."""
