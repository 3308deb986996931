"""Pixel error inside the missing region, against the ground truth."""

from __future__ import annotations

import numpy as np

from maskgit.errors import InputError


def masked_region_metrics(output: np.ndarray, truth: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    """L1 (0-1 scale) and PSNR (dB) over the missing pixels only.

    output, truth: uint8 (N, H, W, C); masks: bool (N, H, W), True = missing. L1 is the mean over all
    missing pixels and channels; PSNR is the mean of per-image PSNRs (images with no missing pixel skipped).
    """
    if output.shape != truth.shape or masks.shape != output.shape[:3]:
        raise InputError(
            f"masked metrics need images and truth of one shape and masks (N, H, W); got "
            f"{output.shape}, {truth.shape} and {masks.shape}"
        )
    diff = output.astype(np.float64) / 255.0 - truth.astype(np.float64) / 255.0  # (N, H, W, C)
    weight = masks[..., None].astype(np.float64)  # (N, H, W, 1)
    channels = output.shape[3]
    missing = weight.sum(axis=(1, 2, 3)) * channels  # (N,) missing values per image
    if missing.sum() == 0:
        raise InputError("no pixel is missing in any mask: masked metrics are undefined")
    l1 = float((np.abs(diff) * weight).sum() / missing.sum())
    mse = (diff**2 * weight).sum(axis=(1, 2, 3))[missing > 0] / missing[missing > 0]
    psnr = 10 * np.log10(1.0 / np.maximum(mse, 1e-10))
    return {"masked_l1": l1, "masked_psnr": float(psnr.mean())}
