"""Privacy: finding faces (:mod:`~engine.ops.privacy.faces` with the HOG window model of
:mod:`~engine.ops.privacy.facemodel`) and hiding masked regions beyond recovery
(:mod:`~engine.ops.privacy.anonymise`); the ``detect_faces`` and ``anonymise`` ops."""

from engine.models.architectures import register_architecture

ARCHITECTURE = "face_hog_template_v1"
"""Name recorded in the weights manifest for the face window classifier."""

MODEL_NAME = "face_detector"
"""Manifest name of the shipped face detector."""

register_architecture(ARCHITECTURE, "engine.ops.privacy.facemodel:build_face_model")
