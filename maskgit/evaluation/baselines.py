"""The baselines a sweep scores next to maskgit (BASELINES, keyed by id).

Classical inpainting with OpenCV (maskgit.decoding.fill.opencv_inpaint) is what a user would reach for
without a model; its results are composited by construction: OpenCV only fills the masked pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

from maskgit.decoding.fill import opencv_inpaint

__all__ = ["BASELINES", "Baseline", "opencv_inpaint"]


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
