"""Experiments and their presentation: inpainting a whole benchmark (InpaintingSet), sweeps over decoding
settings with baselines, the demo, tables, figures, pictures and HTML reports."""

from maskgit.experiments.inpainting import InpaintingSet, tokenizer_reconstruction
from maskgit.experiments.sweep import Sweep, SweepConfig

__all__ = ["InpaintingSet", "Sweep", "SweepConfig", "tokenizer_reconstruction"]
