"""Scoring generated images: FID against a dataset's test split, and how many copy the training set.

A sample nearly duplicates a training image when its mean absolute pixel difference (0-1 scale) to the
closest training image, or to that image mirrored, is below NEAR_DUPLICATE_L1. At 0.03 two emoji
differ by less than a faint outline: the same drawing, at most recoloured in a few pixels.
"""

from __future__ import annotations

import numpy as np
import torch

from maskgit.errors import InputError

NEAR_DUPLICATE_L1 = 0.03


def nearest_training_l1(samples: np.ndarray, train: np.ndarray, chunk: int = 256) -> np.ndarray:
    """(N,) mean absolute difference (0-1 scale) of each uint8 sample to its closest training image or mirror."""
    if samples.shape[1:] != train.shape[1:]:
        raise InputError(f"samples are {samples.shape[1:]} but the training images are {train.shape[1:]}")
    x = torch.from_numpy(samples).flatten(1).float() / 255.0  # (N, D)
    candidates = np.concatenate([train, train[:, :, ::-1]])
    best = torch.full((len(x),), float("inf"))
    for start in range(0, len(candidates), chunk):
        y = torch.from_numpy(np.ascontiguousarray(candidates[start : start + chunk])).flatten(1).float() / 255.0
        best = torch.minimum(best, torch.cdist(x, y, p=1).min(dim=1).values / x.shape[1])
    return best.numpy()


def near_duplicate_share(samples: np.ndarray, train: np.ndarray, threshold: float = NEAR_DUPLICATE_L1) -> float:
    """The fraction of samples that nearly duplicate a training image (see the module's docstring)."""
    return float((nearest_training_l1(samples, train) < threshold).mean())
