"""Scoring and comparing decoders: FID/KID on InceptionV3 features, masked-region errors, OpenCV baselines,
set-level inpainting, sweeps over decoding settings, figures and reports."""

from maskgit.evaluation.baselines import opencv_inpaint
from maskgit.evaluation.fid import FeatureStats, frechet_distance, kernel_inception_distance, score_features
from maskgit.evaluation.inception import InceptionFeatures
from maskgit.evaluation.inpainting import InpaintingSet, tokenizer_reconstruction
from maskgit.evaluation.masked import masked_region_metrics

__all__ = [
    "FeatureStats",
    "InceptionFeatures",
    "InpaintingSet",
    "frechet_distance",
    "kernel_inception_distance",
    "masked_region_metrics",
    "opencv_inpaint",
    "score_features",
    "tokenizer_reconstruction",
]
