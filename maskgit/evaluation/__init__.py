"""Metrics and baselines: FID/KID on InceptionV3 features, masked-region errors, near-duplicates, and the
baselines a sweep scores (OpenCV inpainting and the registry). Experiments live in maskgit.experiments."""

from maskgit.evaluation.baselines import opencv_inpaint
from maskgit.evaluation.fid import FeatureStats, frechet_distance, kernel_inception_distance, score_features
from maskgit.evaluation.inception import InceptionFeatures
from maskgit.evaluation.masked import masked_region_metrics

__all__ = [
    "FeatureStats",
    "InceptionFeatures",
    "frechet_distance",
    "kernel_inception_distance",
    "masked_region_metrics",
    "opencv_inpaint",
    "score_features",
]
