"""Inpainting a whole image set in batches: per-image seeds, several sweet spots from one decode, traces.

The images are tokenized once (InpaintingSet), so a sweep over schedules and step counts only runs the
transformer. One decode with T steps also yields every sweet spot S <= T: the tokens returned for sweet
spot S are exactly the predictions after step S (maskgit.decoding.parallel_decode), and the noise of
the first S steps does not depend on T's later steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from maskgit.data.images import to_tensor, to_uint8
from maskgit.decoding.config import DecodeConfig
from maskgit.decoding.fill import DEFAULT_FILL
from maskgit.decoding.parallel_decode import decode_tokens, per_image_generators
from maskgit.errors import InputError
from maskgit.pipeline import MaskGIT


@dataclass
class Decoded:
    """The outcome of one sweet spot for the whole set."""

    images: np.ndarray  # uint8 (N, H, W, C), composited: known pixels from the input
    reconstruction: np.ndarray  # uint8 (N, H, W, C), the decoder's whole image
    remaining: np.ndarray  # (N,) float: fraction of the unknown tokens still masked at this sweet spot


@dataclass
class Trace:
    """Per-step pictures of a few images (seed 002's figures)."""

    indices: list[int]
    token_masks: np.ndarray  # bool (K, S, h, w): still masked after each step
    predictions: np.ndarray  # uint8 (K, S, H, W, C): each step's predicted tokens, decoded (not composited)
    initial_mask: np.ndarray  # bool (K, h, w): unknown before the first step
    composited: np.ndarray | None = None  # uint8 (K, S, H, W, C): predictions composited as the result is
    # (None in traces saved before it was kept)


@dataclass
class SetResult:
    by_sweet_spot: dict[int, Decoded]
    masked_fraction: np.ndarray  # (T,) mean fraction of the unknown tokens still masked after each step run
    trace: Trace | None = None
    seconds: float = 0.0


@dataclass
class InpaintingSet:
    """Images and masks, tokenized once. images: uint8 (N, H, W, C); masks: bool (N, H, W), True = missing."""

    model: MaskGIT
    images: np.ndarray
    masks: np.ndarray
    batch_size: int = 64
    fill: str = DEFAULT_FILL  # what the tokenizer sees in place of missing pixels (maskgit.decoding.fill)
    coverage_threshold: float = 0.0
    tokens: torch.Tensor = field(init=False)  # (N, n) int64
    token_mask: torch.Tensor = field(init=False)  # (N, n) bool
    hint: torch.Tensor | None = field(init=False)  # (N, n, 2) int64 for a transformer with fill_hint, else None

    def __post_init__(self) -> None:
        c = self.model.tokenizer.config
        n, h, w = self.masks.shape if self.masks.ndim == 3 else (0, 0, 0)
        if self.images.ndim != 4 or self.images.shape[1:] != (c.resolution, c.resolution, c.image_channels):
            raise InputError(
                f"images are {self.images.shape[1:]} (H, W, C) but the model takes "
                f"{c.resolution}x{c.resolution}x{c.image_channels}"
            )
        if (n, h, w) != self.images.shape[:3]:
            raise InputError(
                f"{len(self.images)} images of {self.images.shape[1:3]} but masks shaped {self.masks.shape}"
            )
        if self.batch_size < 1:
            raise InputError(f"batch size must be at least 1, got {self.batch_size}")
        tokens, token_masks, hints = [], [], []
        for start in range(0, len(self.images), self.batch_size):
            x, m = self._batch(start, min(start + self.batch_size, len(self.images)))
            known, unknown = self.model.tokenize_known(
                x, m, fill=self.fill, coverage_threshold=self.coverage_threshold
            )  # (b, N) each
            tokens.append(known)
            token_masks.append(unknown)
            hints.append(self.model.fill_hint(known, m))
        self.tokens, self.token_mask = torch.cat(tokens), torch.cat(token_masks)
        self.hint = None if not hints or hints[0] is None else torch.cat(hints)

    def _batch(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Images [start, stop) as (b, C, H, W) in [-1, 1] and their masks (b, H, W), on the model's device."""
        device = self.model.device
        return to_tensor(self.images[start:stop]).to(device), torch.from_numpy(self.masks[start:stop]).to(device)

    def __len__(self) -> int:
        return len(self.images)

    def decode(
        self,
        config: DecodeConfig,
        sweet_spots: list[int] | None = None,
        *,
        seed: int = 0,
        trace_indices: list[int] | None = None,
        precision: str = "auto",
        progress: bool | str = False,
    ) -> SetResult:
        """Inpaint every image with `config`; image i uses the generator seeded seed + i (batch-independent).

        sweet_spots: the sweet spots to return (default: config's own); one decode runs to the largest.
        trace_indices: images whose per-step token masks and predictions to keep.
        """
        spots = sorted(set(sweet_spots or [config.steps_to_run]))
        if spots[0] < 1 or spots[-1] > config.total_steps:
            raise InputError(f"sweet spots must lie in 1..{config.total_steps}, got {spots}")
        run = replace(config, sweet_spot=spots[-1])
        want_trace = set(trace_indices or [])
        out: dict[int, dict[str, list[np.ndarray]]] = {s: {"images": [], "recon": [], "remaining": []} for s in spots}
        fractions, trace_masks, trace_images, trace_composited = [], [], [], []
        started = time.perf_counter()
        starts = range(0, len(self), self.batch_size)
        label = progress if isinstance(progress, str) else "inpainting"
        for start in tqdm(starts, desc=label, unit="batch", disable=not progress, leave=False):
            stop = min(start + self.batch_size, len(self))
            tokens, token_mask = self.tokens[start:stop], self.token_mask[start:stop]
            hint = None if self.hint is None else self.hint[start:stop]
            generators = per_image_generators(range(seed + start, seed + stop), self.model.device)
            result = decode_tokens(
                self.model.transformer,
                tokens,
                token_mask,
                run,
                generator=generators,
                hint=hint,
                return_trace=True,
                precision=precision,
            )
            initial = token_mask.sum(dim=1).clamp_min(1).double().cpu()  # (B,)
            fractions.append(torch.stack([s.token_mask.sum(dim=1) / initial for s in result.trace], dim=1).numpy())
            x, missing = self._batch(start, stop)
            for s in spots:
                step = result.trace[s - 1]
                composited, recon = self.model.render(step.predicted, x, missing, blend=run.blend)
                out[s]["images"].append(to_uint8(composited.cpu()))
                out[s]["recon"].append(to_uint8(recon.cpu()))
                out[s]["remaining"].append((step.token_mask.sum(dim=1) / initial).numpy())
            for i in sorted(want_trace & set(range(start, stop))):
                b = i - start
                trace_masks.append(torch.stack([s.token_mask[b] for s in result.trace]))
                steps = torch.stack([s.predicted[b] for s in result.trace])  # (S, N)
                image, hole = x[b : b + 1].expand(len(steps), -1, -1, -1), missing[b : b + 1].expand(len(steps), -1, -1)
                composited, decoded = self.model.render(steps, image, hole, blend=run.blend)  # (S, C, H, W) each
                trace_images.append(to_uint8(decoded.cpu()))
                trace_composited.append(to_uint8(composited.cpu()))
        by_spot = {
            s: Decoded(np.concatenate(v["images"]), np.concatenate(v["recon"]), np.concatenate(v["remaining"]))
            for s, v in out.items()
        }
        trace = None
        if want_trace:
            grid = self.model.tokenizer.config.grid_size
            indices = sorted(want_trace & set(range(len(self))))
            trace = Trace(
                indices=indices,
                token_masks=torch.stack(trace_masks).view(len(indices), -1, grid, grid).numpy(),
                predictions=np.stack(trace_images),
                initial_mask=self.token_mask[indices].view(len(indices), grid, grid).cpu().numpy(),
                composited=np.stack(trace_composited),
            )
        seconds = time.perf_counter() - started
        return SetResult(by_spot, np.concatenate(fractions).mean(axis=0), trace, seconds)


@torch.no_grad()
def tokenizer_reconstruction(model: MaskGIT, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """uint8 images through the tokenizer and back (no masks): the floor that inpainting can approach."""
    out = []
    for start in range(0, len(images), batch_size):
        reconstruction, _ = model.tokenizer.reconstruct(to_tensor(images[start : start + batch_size]).to(model.device))
        out.append(to_uint8(reconstruction.cpu()))
    return np.concatenate(out)
