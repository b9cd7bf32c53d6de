"""Detectors and encoders: faces (dlib) and species (EfficientNet-Lite0 in torch), behind one interface."""

from .base import Encoder, EncoderSpec, Found, Outcome

MODES = ("faces", "species")


def make_encoder(spec: EncoderSpec) -> Encoder:
    options = dict(spec.options)
    if spec.mode == "faces":
        from .faces import DlibFaceEncoder

        return DlibFaceEncoder(**options)
    if spec.mode == "species":
        from .species import EfficientNetSpeciesEncoder

        return EfficientNetSpeciesEncoder(**options)
    raise ValueError(f"unknown mode {spec.mode!r} (use one of {', '.join(MODES)})")


__all__ = ["MODES", "Encoder", "EncoderSpec", "Found", "Outcome", "make_encoder"]
