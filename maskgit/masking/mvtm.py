"""Masked visual token modeling (MVTM): the training-step math of stage 2.

A batch of token ids is masked per sample (a ratio r ~ U(0, 1) through the schedule gamma), the
transformer predicts every position, and the cross-entropy is taken over all tokens (seed 002's better
variant, the default) or over masked tokens only (the MaskGIT paper).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from maskgit.errors import ConfigError
from maskgit.masking.schedules import gamma

LossOn = Literal["all", "masked"]


@dataclass
class MaskedBatch:
    inputs: Tensor  # (B, N) int64: targets with masked positions set to mask_token_id
    targets: Tensor  # (B, N) int64: the true token ids in [0, codebook_size)
    token_mask: Tensor  # (B, N) bool: True where the token was masked
    hint: Tensor | None = None  # (B, N, 2) int64: the fill hint (BidirectionalTransformer.forward), if trained with one
    holes: Tensor | None = None  # (B,) bool: rows masked as inpainting holes (mask_mix); None when all are uniform


def num_masked_tokens(ratios: Tensor, num_tokens: int, schedule: str) -> Tensor:
    """ceil(gamma(r) * N), at least 1 and at most N. ratios: (B,) in [0, 1) -> (B,) int64."""
    counts = torch.ceil(gamma(schedule, ratios.double()) * num_tokens).long()
    return counts.clamp(1, num_tokens)


def mask_lowest(scores: Tensor, counts: Tensor) -> Tensor:
    """(B, N) bool, True at the counts[b] lowest scores of row b: the one "keep the k lowest" rule.

    Training masks the lowest of uniform noise (random_token_mask); decoding re-masks the lowest
    confidences (maskgit.decoding.parallel_decode.decoding_step). scores: (B, N); counts: (B,) int64.
    """
    order = scores.argsort(dim=1)  # (B, N): positions, lowest score first
    lowest_in_order = torch.arange(scores.shape[1], device=scores.device)[None, :] < counts[:, None]  # (B, N)
    return torch.zeros_like(lowest_in_order).scatter(1, order, lowest_in_order)


def random_token_mask(num_masked: Tensor, num_tokens: int, generator: torch.Generator | None = None) -> Tensor:
    """A (B, N) bool mask with exactly num_masked[b] True entries in row b, at uniformly random places.

    Vectorised as in MAE's random_masking: rank positions by uniform noise and mask the lowest ranks.
    """
    noise = torch.rand(num_masked.shape[0], num_tokens, generator=generator, device=num_masked.device)  # (B, N)
    return mask_lowest(noise, num_masked)


def mask_tokens(
    tokens: Tensor,
    mask_token_id: int,
    *,
    schedule: str = "cosine",
    generator: torch.Generator | None = None,
) -> MaskedBatch:
    """Mask a batch of token ids for one MVTM training step.

    Args:
        tokens: (B, N) or (B, h, w) int64 token ids; flattened to (B, N).
        mask_token_id: the id that replaces masked tokens (= codebook size).
        schedule: a mask schedule name; each sample masks ceil(gamma(r) * N) tokens, r ~ U(0, 1).
        generator: optional torch.Generator for the ratios and the positions.
    """
    targets = tokens.reshape(tokens.shape[0], -1)
    batch, num_tokens = targets.shape
    ratios = torch.rand(batch, generator=generator, device=targets.device)  # (B,) in [0, 1)
    token_mask = random_token_mask(num_masked_tokens(ratios, num_tokens, schedule), num_tokens, generator)
    inputs = targets.masked_fill(token_mask, mask_token_id)
    return MaskedBatch(inputs=inputs, targets=targets, token_mask=token_mask)


def mvtm_loss(
    logits: Tensor,
    targets: Tensor,
    token_mask: Tensor,
    *,
    loss_on: LossOn = "all",
    label_smoothing: float = 0.0,
    neighbours: Tensor | None = None,
    codebook_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy of the transformer's predictions against the true token ids.

    Args:
        logits: (B, N, C) with C = codebook_size or codebook_size + 1 (a mask-class column is allowed);
            or, with loss_on="masked", (M, C): only the rows at token_mask (batch-major, as
            BidirectionalTransformer(..., at=token_mask) returns them), which skips the output head
            everywhere the loss does not look.
        targets: (B, N) int64 true ids.
        token_mask: (B, N) bool, True where masked.
        loss_on: "all" averages over every token; "masked" over masked tokens only.
        label_smoothing: as in torch.nn.functional.cross_entropy.
        neighbours: (codebook_size, C) soft targets per true code (codebook_neighbours), for codebook_smoothing.
        codebook_smoothing: the share of each token's loss taken against its code's neighbours instead of the
            code alone (PUT's token-distance label smoothing): a near-miss among near-duplicate codes costs less
            than a wild guess.
    Returns:
        The scalar mean loss (float32).
    """
    if loss_on not in ("all", "masked"):
        raise ConfigError(f"loss_on must be 'all' or 'masked', got {loss_on!r}")
    if codebook_smoothing and neighbours is None:
        raise ConfigError("codebook_smoothing needs the codebook's neighbours (codebook_neighbours)")

    def per_token_loss(rows: Tensor, ids: Tensor) -> Tensor:  # (R, C), (R,) -> (R,)
        return soft_target_cross_entropy(rows, ids, label_smoothing, neighbours, codebook_smoothing)

    if logits.dim() == 2:  # (M, C): the masked rows only
        if loss_on != "masked":
            raise ConfigError("logits of the masked positions only can give the loss on masked tokens only")
        return per_token_loss(logits, targets[token_mask]).mean()
    per_token = per_token_loss(logits.flatten(0, 1), targets.flatten()).view_as(targets)  # (B, N)
    if loss_on == "all":
        return per_token.mean()
    weights = token_mask.float()
    return (per_token * weights).sum() / weights.sum().clamp_min(1.0)


def soft_target_cross_entropy(
    logits: Tensor, ids: Tensor, label_smoothing: float = 0.0, neighbours: Tensor | None = None, share: float = 0.0
) -> Tensor:
    """Per-row cross-entropy -sum_c q_c log softmax(logits)_c (float32) against the soft target q of each true id:
    (1 - share) * [(1 - label_smoothing) * onehot(id) + label_smoothing / C] + share * neighbours[id].

    With share = 0 this is F.cross_entropy(logits, ids, reduction="none", label_smoothing=label_smoothing). The
    backward is the closed form (softmax - q) * grad in one pass over the (R, C) logits, where autograd through
    cross_entropy builds and adds three (R, C) tensors (docs/benchmarks.md). logits: (R, C); ids: (R,) int64;
    neighbours: (K, C) rows for ids < K (codebook_neighbours), needed when share > 0. Returns (R,).
    """
    return _SoftTargetCrossEntropy.apply(logits, ids, float(label_smoothing), neighbours, float(share))


class _SoftTargetCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: Tensor, ids: Tensor, smoothing: float, neighbours: Tensor | None, share: float):
        log_probs = torch.log_softmax(logits.float(), dim=-1)  # (R, C)
        hard, uniform = (1 - share) * (1 - smoothing), (1 - share) * smoothing / log_probs.shape[-1]
        loss = -hard * log_probs.gather(1, ids[:, None]).squeeze(1)  # (R,)
        if uniform:
            loss = loss - uniform * log_probs.sum(dim=-1)
        if share:
            loss = loss - share * (neighbours[ids] * log_probs).sum(dim=-1)  # type: ignore[index]
        ctx.save_for_backward(log_probs, ids, neighbours if share else None)
        ctx.weights, ctx.logits_dtype = (hard, uniform, share), logits.dtype
        return loss

    @staticmethod
    def backward(ctx, grad: Tensor):  # grad: (R,)
        log_probs, ids, neighbours = ctx.saved_tensors
        hard, uniform, share = ctx.weights
        grad_logits = log_probs.exp()  # the softmax: (R, C)
        if uniform:
            grad_logits.sub_(uniform)
        grad_logits.scatter_add_(1, ids[:, None], grad_logits.new_full((len(ids), 1), -hard))
        if share:
            grad_logits.sub_(share * neighbours[ids])
        grad_logits.mul_(grad[:, None])
        return grad_logits.to(ctx.logits_dtype), None, None, None, None


@torch.no_grad()
def codebook_neighbours(codebook: Tensor, output_classes: int | None = None) -> Tensor:
    """(K, C) soft targets: row t is softmax(-||e_j - e_t||^2 / tau) over the codes j, tau the median squared
    distance from a code to its nearest other code (so a code's close neighbours share its mass, distant codes
    get almost none). Columns beyond K (a mask class) get 0. codebook: (K, D)."""
    codes = codebook.float()
    distances = torch.cdist(codes, codes).square()  # (K, K)
    nearest = distances.masked_fill(torch.eye(len(codes), dtype=torch.bool, device=codes.device), float("inf"))
    tau = nearest.min(dim=1).values.median().clamp_min(1e-12)
    soft = torch.softmax(-distances / tau, dim=1)
    width = output_classes or len(codes)
    return F.pad(soft, (0, width - len(codes)))


@torch.no_grad()
def masked_token_accuracy(logits: Tensor, targets: Tensor, token_mask: Tensor, *, codebook_size: int) -> Tensor:
    """Fraction of masked tokens whose most likely code (mask class excluded) is the true id."""
    predicted = logits[..., :codebook_size].argmax(dim=-1)  # (B, N)
    hits = (predicted == targets) & token_mask
    return hits.sum().float() / token_mask.sum().clamp_min(1).float()
