"""The baselines a sweep scores next to maskgit (BASELINES, keyed by id), and classical inpainting with
OpenCV: what a user would reach for without a model.

Telea (fast marching, 2004) and Navier-Stokes (Bertalmio et al., 2001), as in cv2.inpaint, each image
on its own with a 3-pixel radius. The results are composited by construction: OpenCV only fills the
masked pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from maskgit.errors import InputError

OPENCV_METHODS = {"telea": cv2.INPAINT_TELEA, "navier-stokes": cv2.INPAINT_NS}
RADIUS = 3


@dataclass(frozen=True)
class Baseline:
    key: str  # the id in results.jsonl, summary.json and SweepConfig.baselines
    name: str  # how tables name it
    label: str  # a picture column's label
    note: str  # what it is, in a table's note column


BASELINES = {
    b.key: b
    for b in (
        Baseline("one-step", "one-step decoding", "one-step", "T = 1: every token in one pass"),
        Baseline("raw", "raw reconstruction", "raw", "the decoder's whole image, not composited"),
        Baseline("telea", "OpenCV Telea", "Telea", "cv2.inpaint, radius 3 (Telea)"),
        Baseline("navier-stokes", "OpenCV Navier-Stokes", "Navier-Stokes", "cv2.inpaint, radius 3 (Navier-Stokes)"),
        Baseline(
            "oracle",
            "oracle (true tokens)",
            "oracle",
            "the ground truth's tokens decoded, composited into the holes: what a perfect transformer scores",
        ),
        Baseline(
            "tokenizer", "tokenizer reconstruction", "tokenizer", "the ground truth through the tokenizer, no mask"
        ),
    )
}


def opencv_inpaint(images: np.ndarray, masks: np.ndarray, method: str, radius: int = RADIUS) -> np.ndarray:
    """images: uint8 (N, H, W, C); masks: bool (N, H, W), True = missing -> uint8 (N, H, W, C)."""
    if method not in OPENCV_METHODS:
        raise InputError(f"unknown OpenCV inpainting method {method!r}: choose {', '.join(OPENCV_METHODS)}")
    if images.shape[:3] != masks.shape:
        raise InputError(f"{images.shape[:3]} images but {masks.shape} masks: one mask per image, same size")
    out = np.empty_like(images)
    for i, (image, mask) in enumerate(zip(images, masks, strict=True)):
        filled = cv2.inpaint(np.ascontiguousarray(image), mask.astype(np.uint8) * 255, radius, OPENCV_METHODS[method])
        out[i] = filled.reshape(image.shape)
    return out
