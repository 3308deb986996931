"""Scoring generated images: FID against a dataset's test split, precision and recall, and how many copy the
training set.

Precision and recall are Kynkaanniemi et al.'s (2019) k-nearest-neighbour estimate on Inception features:
each set's manifold is the union of balls around its points, each with the radius of the distance to that
point's k-th nearest neighbour in its own set. Precision: the share of samples inside the real images' manifold
(how many look real); recall: the share of real images inside the samples' manifold (how much of the data the
samples cover).

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


PR_NEIGHBOURS = 3  # k of the k-NN manifolds (the paper's default)


def _kth_neighbour_radii(points: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """(N,) distance of each point to its k-th nearest other point of the same set."""
    radii = []
    for start in range(0, len(points), chunk):
        d = torch.cdist(points[start : start + chunk], points)  # (c, N), the point itself at distance 0
        radii.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def _inside(queries: torch.Tensor, points: torch.Tensor, radii: torch.Tensor, chunk: int) -> torch.Tensor:
    """(Q,) bool: whether each query lies within radii[j] of some points[j]."""
    inside = []
    for start in range(0, len(queries), chunk):
        d = torch.cdist(queries[start : start + chunk], points)  # (c, N)
        inside.append((d <= radii[None, :]).any(dim=1))
    return torch.cat(inside)


def precision_recall(
    real: np.ndarray, fake: np.ndarray, k: int = PR_NEIGHBOURS, chunk: int = 1024
) -> tuple[float, float]:
    """(precision, recall) of samples `fake` (M, D) against real images `real` (N, D), both feature arrays."""
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise InputError(f"precision/recall needs two (N, D) feature arrays, got {real.shape} and {fake.shape}")
    if min(len(real), len(fake)) <= k:
        raise InputError(f"precision/recall with k = {k} needs more than {k} real and generated images")
    r = torch.from_numpy(np.asarray(real, dtype=np.float64))
    f = torch.from_numpy(np.asarray(fake, dtype=np.float64))
    precision = _inside(f, r, _kth_neighbour_radii(r, k, chunk), chunk).double().mean()
    recall = _inside(r, f, _kth_neighbour_radii(f, k, chunk), chunk).double().mean()
    return float(precision), float(recall)
