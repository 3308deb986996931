"""Deterministic train / val / test splits that keep related images (a group) together."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np

TRAIN, VAL, TEST = 0, 1, 2
SPLIT_IDS = {"train": TRAIN, "val": VAL, "test": TEST}


def split_by_group(groups: list[str], test_images: int, val_images: int) -> np.ndarray:
    """Assign every image a split id (TRAIN, VAL or TEST) so that no group crosses splits.

    Groups are visited in the order of the SHA-256 of their names (the same on every machine); a
    group joins the test split while it fits in `test_images`, then the val split while it fits in
    `val_images`; everything else is train.
    """
    sizes = Counter(groups)
    order = sorted(sizes, key=lambda g: hashlib.sha256(g.encode()).hexdigest())
    assignment: dict[str, int] = {}
    room = {TEST: test_images, VAL: val_images}
    for group in order:
        for split in (TEST, VAL):
            if sizes[group] <= room[split]:
                assignment[group] = split
                room[split] -= sizes[group]
                break
        else:
            assignment[group] = TRAIN
    return np.array([assignment[g] for g in groups], dtype=np.int64)
