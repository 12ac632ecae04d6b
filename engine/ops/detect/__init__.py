"""Detection that proposes masks: edges, template matching, damage (scratches, dust, spots).

The learned damage detector's network is :mod:`~engine.ops.detect.net`, its runtime
:mod:`~engine.ops.detect.damage`; the classical detector is :mod:`~engine.ops.detect.defects`.
"""

from engine.models.architectures import register_architecture

ARCHITECTURE = "damage_unet_v1"
"""Name recorded in the weights manifest for the damage detector's network."""

register_architecture(ARCHITECTURE, "engine.ops.detect.net:build_damage_net")
