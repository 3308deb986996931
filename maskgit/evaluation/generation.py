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

A class-conditional sample is recognised as its class when its nearest labelled real image (Inception features)
has that class: the accuracy on samples of a classifier built from real images alone (Shmelkov et al.'s GAN-test,
2018, with a 1-nearest-neighbour classifier, so there is nothing to train). Real images the classifier has not
seen calibrate it (scripts/generation-floor.py).
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


def class_match(
    reference: np.ndarray, reference_labels: np.ndarray, samples: np.ndarray, sample_labels: np.ndarray
) -> tuple[float, int]:
    """(share, counted): the share of samples whose nearest reference image has the sample's class, over the
    `counted` samples whose class the reference holds at all (another sample could not be recognised).

    reference, samples: (N, D), (M, D) feature arrays; reference_labels (N,) and sample_labels (M,) class ids.
    """
    if reference.ndim != 2 or samples.ndim != 2 or reference.shape[1] != samples.shape[1]:
        raise InputError(f"class_match needs two (N, D) feature arrays, got {reference.shape} and {samples.shape}")
    if len(reference_labels) != len(reference) or len(sample_labels) != len(samples):
        raise InputError(
            f"class_match got {len(reference_labels)} labels for {len(reference)} reference images and "
            f"{len(sample_labels)} for {len(samples)} samples"
        )
    known = np.isin(sample_labels, reference_labels)  # (M,)
    if not known.any():
        raise InputError("none of the samples' classes has a reference image: no class match to measure")
    r = torch.from_numpy(np.asarray(reference, dtype=np.float64))
    f = torch.from_numpy(np.asarray(samples[known], dtype=np.float64))
    nearest = torch.cdist(f, r).argmin(dim=1).numpy()  # (counted,)
    return float((reference_labels[nearest] == sample_labels[known]).mean()), int(known.sum())


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
