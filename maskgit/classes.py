"""What the class ids of a class-conditional model mean: the label kind they come from, their names, and how
many training images each had. Kept in the checkpoint (its "extra" facts) by training and by MaskGIT.save.

Generation without a chosen class draws each sample's class in proportion to the training counts, so that a
set of samples has the data's mix of classes (what FID against the test split compares with).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from maskgit.errors import InputError


@dataclass(frozen=True)
class ClassVocabulary:
    labels: str  # the dataset's label kind ("category", "subcategory" for emoji; "category" elsewhere)
    names: tuple[str, ...]  # names[k] is class id k
    counts: tuple[int, ...] = ()  # training images of each class (empty: unknown, then every class is as likely)

    def __post_init__(self) -> None:
        if self.counts and len(self.counts) != len(self.names):
            raise InputError(f"{len(self.counts)} class counts for {len(self.names)} class names")

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any], num_classes: int) -> ClassVocabulary | None:
        """The vocabulary a checkpoint's extra facts describe, or plain numbers where it names none."""
        if not num_classes:
            return None
        names = [str(n) for n in extra.get("class_names") or []]
        if len(names) != num_classes:
            names = [f"class {k}" for k in range(num_classes)]
        counts = [int(n) for n in extra.get("class_counts") or []]
        known = tuple(counts) if len(counts) == len(names) else ()
        return cls(str(extra.get("class_labels", "category")), tuple(names), known)

    def to_extra(self) -> dict[str, Any]:
        return {"class_labels": self.labels, "class_names": list(self.names), "class_counts": list(self.counts)}

    def class_id(self, name_or_id: str | int) -> int:
        """A class id from its number or its name (as `maskgit inspect` lists them)."""
        if isinstance(name_or_id, int) or str(name_or_id).isdigit():
            k = int(name_or_id)
            if not 0 <= k < len(self):
                last = len(self) - 1
                raise InputError(f"there is no class {k}: this model has {len(self)} classes, pick one of 0..{last}")
            return k
        if name_or_id not in self.names:
            near = [n for n in self.names if str(name_or_id).lower() in n.lower()][:5]
            hint = f" (did you mean {', '.join(near)}?)" if near else " (`maskgit inspect MODEL` lists them)"
            raise InputError(f"this model has no class named {name_or_id!r}{hint}")
        return self.names.index(str(name_or_id))

    def draw(self, seeds: Iterable[int]) -> torch.Tensor:
        """(len(seeds),) int64: one class per sample, drawn in proportion to the training counts with the
        sample's own seed (so a sample's class does not depend on how many are drawn with it)."""
        weights = torch.tensor(self.counts or [1] * len(self), dtype=torch.float64)
        if not weights.sum() > 0:
            raise InputError("no class of this model had training images: choose one")
        picks = [torch.multinomial(weights, 1, generator=torch.Generator().manual_seed(s)) for s in seeds]
        return torch.cat(picks) if picks else torch.zeros(0, dtype=torch.int64)
