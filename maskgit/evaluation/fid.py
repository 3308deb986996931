"""Frechet Inception Distance and Kernel Inception Distance from feature sets, and a feature cache.

FID = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)), in float64.

The trace of the matrix square root is computed the stable symmetric way: with R = S_a^(1/2) (from a
symmetric eigendecomposition), S_a S_b is similar to R S_b R, which is symmetric positive semi-definite,
so tr((S_a S_b)^(1/2)) = sum_i sqrt(lambda_i(R S_b R)). This equals scipy.linalg.sqrtm's trace (pytorch-fid)
to ~1e-7 relative and is 4x faster at 2048 dimensions. Round-off can leave eigenvalues slightly below 0:
they are dropped only when negligible (|lambda| < 1e-6 of the largest), otherwise it is an error (the
analogue of pytorch-fid's imaginary-part check). If the eigendecomposition is not finite, it is retried
with eps * I added to both covariances (pytorch-fid's fix for singular products).

KID is the unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over
100 random subsets of min(1000, N/2) images (Binkowski et al. 2018), reported as mean and standard deviation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maskgit.errors import InputError, MetricError
from maskgit.evaluation.inception import InceptionFeatures
from maskgit.fileio import atomic_write, maskgit_home

SQRTM_EPS = 1e-6
NEGATIVE_TOLERANCE = 1e-6


@dataclass
class FeatureStats:
    """Mean and covariance of a feature set: all FID needs."""

    mu: np.ndarray  # (D,) float64
    sigma: np.ndarray  # (D, D) float64
    count: int

    @classmethod
    def of(cls, features: np.ndarray) -> FeatureStats:
        if features.ndim != 2 or len(features) < 2:
            raise InputError(f"FID needs at least 2 images; got {len(features)}")
        features = features.astype(np.float64)
        return cls(features.mean(axis=0), np.cov(features, rowvar=False), len(features))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def trace_sqrt_product(sigma_a: np.ndarray, sigma_b: np.ndarray, eps: float = SQRTM_EPS) -> float:
    """tr((sigma_a sigma_b)^(1/2)) for symmetric PSD matrices (see the module docstring)."""
    for offset in (0.0, eps):
        shift = np.eye(len(sigma_a)) * offset
        root = _psd_sqrt(sigma_a + shift)
        product = root @ (sigma_b + shift) @ root
        if np.isfinite(product).all():
            values = np.linalg.eigvalsh((product + product.T) / 2)
            if np.isfinite(values).all():
                break
    else:
        raise MetricError("the covariance product is not finite: check the features for NaN or inf")
    negative = values[values < 0]
    if negative.size and -negative.min() > NEGATIVE_TOLERANCE * max(values.max(), 1e-30):
        raise MetricError(
            f"the covariance product has a clearly negative eigenvalue ({negative.min():.3g}): "
            "too few or degenerate images for FID"
        )
    return float(np.sqrt(np.clip(values, 0, None)).sum())


def frechet_distance(a: FeatureStats, b: FeatureStats, eps: float = SQRTM_EPS) -> float:
    """The Frechet distance between two Gaussians, in float64."""
    if a.mu.shape != b.mu.shape or a.sigma.shape != b.sigma.shape:
        raise InputError(f"feature sizes differ: {a.mu.shape} vs {b.mu.shape}")
    diff = a.mu - b.mu
    cross = trace_sqrt_product(a.sigma, b.sigma, eps)
    distance = float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2.0 * cross)
    return max(distance, 0.0)  # round-off can leave about -1e-5 for identical rank-deficient sets


def kernel_inception_distance(
    a: np.ndarray, b: np.ndarray, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID (mean, std over subsets) between two (N, D) feature sets.

    Subsets hold min(subset_size, N / 2) images of each set, so that they differ (the estimator is unbiased
    at any subset size; the spread over subsets is the reported std).
    """
    m = min(len(a) // 2, len(b) // 2, subset_size)
    if m < 2:
        raise InputError(f"KID needs at least 4 images per set; got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    d = a.shape[1]
    a, b = a.astype(np.float64), b.astype(np.float64)
    kxx, kyy, kxy = (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3  # kernels, once
    values = np.empty(subsets)
    for i in range(subsets):
        x, y = rng.choice(len(a), m, replace=False), rng.choice(len(b), m, replace=False)
        sxx, syy = kxx[np.ix_(x, x)], kyy[np.ix_(y, y)]
        off_diagonal = (sxx.sum() - np.trace(sxx) + syy.sum() - np.trace(syy)) / (m * (m - 1))
        values[i] = off_diagonal - 2 * kxy[np.ix_(x, y)].mean()
    return float(values.mean()), float(values.std())


def images_fingerprint(images: np.ndarray) -> str:
    """A content hash of a uint8 image array (shape included)."""
    digest = hashlib.sha256(str(images.shape).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    return digest.hexdigest()[:24]


def cached_features(
    images: np.ndarray, extractor: InceptionFeatures, *, cache_dir: Path | None = None, progress: bool | str = False
) -> np.ndarray:
    """Inception features of `images`, kept in $MASKGIT_HOME/fid keyed by image content and weights.

    Used for reference sets, so that a sweep extracts the ground truth's features once.
    """
    folder = cache_dir if cache_dir is not None else maskgit_home() / "fid"
    path = folder / f"{images_fingerprint(images)}-{extractor.fingerprint}.npy"
    if path.is_file():
        try:
            features = np.load(path)
            if features.shape == (len(images), 2048):
                return features
        except (OSError, ValueError):
            pass  # a damaged cache entry is recomputed
    features = extractor(images, progress)
    save_npy(path, features)
    return features


def save_npy(path: Path, array: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, array)

    atomic_write(path, write)


@dataclass
class ScoreResult:
    fid: float
    kid: float
    kid_std: float
    count: int

    def as_dict(self) -> dict[str, float]:
        return {"fid": self.fid, "kid": self.kid, "kid_std": self.kid_std, "images": self.count}


def score_features(generated: np.ndarray, reference: np.ndarray) -> ScoreResult:
    """FID and KID of generated features against reference features."""
    fid = frechet_distance(FeatureStats.of(generated), FeatureStats.of(reference))
    enough = min(len(generated), len(reference)) >= 4
    kid, kid_std = kernel_inception_distance(generated, reference) if enough else (float("nan"), float("nan"))
    return ScoreResult(fid, kid, kid_std, len(generated))
