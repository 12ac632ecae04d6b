"""Shipped model weights and the architectures that read them.

:mod:`~engine.models.weights` finds, verifies (SHA-256) and loads the safetensors files listed in
``resources/models/manifest.json``; :mod:`~engine.models.architectures` maps a manifest entry's
``architecture`` to the code that builds its network. Nothing is ever downloaded.
"""
