"""MaskGIT's iterative parallel decoding over token ids, for a batch of images at once.

At step t = 0 .. S-1 (S = sweet spot, T = total steps) every still-masked token gets a prediction
and a confidence; the tokens known from the start and the ones decoded earlier have confidence +inf,
so they are never masked again. After step t exactly

    min(floor(gamma((t + 1) / T) * N0), masked_before_step - 1)   (never below 0; 0 after step T - 1)

of an image's N0 originally unknown tokens stay masked: the lowest-confidence ones. Every image
counts its own N0, so a batch may mix images with few and many unknown tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from maskgit.batching import in_micro_batches
from maskgit.decoding.config import DecodeConfig
from maskgit.decoding.halton import halton_priority
from maskgit.decoding.token_mask import grow_token_mask
from maskgit.errors import InputError
from maskgit.masking.mvtm import mask_lowest
from maskgit.masking.schedules import gamma
from maskgit.precision import autocast_dtype
from maskgit.transformer.model import BidirectionalTransformer

KNOWN_CONFIDENCE = math.inf  # confidence of known or already decoded tokens: they always stay unmasked
REFINE_SHARE = 0.25  # each refinement pass (DecodeConfig.refine_steps) decodes again this share of the unknown tokens

Generators = torch.Generator | Sequence[torch.Generator] | None


@dataclass
class DecodeStep:
    """What one decoding step decided (decoding_step returns it; a trace keeps it on the CPU)."""

    token_mask: Tensor  # (B, N) bool: still masked after this step
    predicted: Tensor  # (B, N) int64: known ids, and this step's choice at every position masked before it
    confidence: Tensor  # (B, N) float32: +inf where the token was not masked before the step


@dataclass
class DecodeResult:
    tokens: Tensor  # (B, N) int64, no mask id: known ids, decoded ids, and the last prediction where still masked
    token_mask: Tensor  # (B, N) bool: still masked after the last step run (all False when S = T)
    trace: list[DecodeStep] = field(default_factory=list)


def per_image_generators(seeds: Sequence[int], device: str | torch.device = "cpu") -> list[torch.Generator]:
    """One generator per image, so an image's noise does not depend on the batch it is decoded in.

    Seeds are whole numbers in [0, 2**64) (torch's seed range); anything else is an InputError.
    """
    seeds = list(seeds)
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) < 2**64:
            raise InputError(f"seeds must be whole numbers in [0, 2**64), got {seed!r}")
    return [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]


def _uniform(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    source = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=source).to(device)


def _gumbel(rows: Tensor, width: int, generators: Generators, device: torch.device) -> Tensor:
    """Gumbel(0, 1) noise of shape (M, width) for the M masked positions listed batch-major in `rows`.

    rows: (B,) number of masked positions per image. With a list of generators, image b's rows come
    from generators[b] alone; with one generator (or None) the whole block comes from it.
    """
    if generators is None or isinstance(generators, torch.Generator):
        u = _uniform((int(rows.sum()), width), generators, device)
    else:
        u = torch.cat([_uniform((int(n), width), g, device) for n, g in zip(rows.tolist(), generators, strict=True)])
    return u.clamp_min_(1e-20).log_().neg_().add_(1e-20).log_().neg_()  # -log(-log(u) + 1e-20), in place


def choose_tokens(
    logits: Tensor,
    temperature: float,
    rule: str,
    rows: Tensor,
    generators: Generators,
    sample_temperature: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """Pick a token and its confidence for each masked position.

    Args:
        logits: (M, K) float32 logits of the M masked positions (batch-major), mask class excluded.
        temperature: the annealed choice temperature of this step, >= 0.
        rule: "greedy", "sampled" or "noisy-probs" (see DecodeConfig).
        rows: (B,) masked positions per image (sums to M), to draw each image's noise on its own.
        generators: noise source(s).
        sample_temperature: "sampled" draws from softmax(logits / sample_temperature); the confidence stays
            the model's own log p(chosen).
    Returns:
        (M,) int64 chosen ids in [0, K) and (M,) float32 confidences.
    """
    probs = torch.softmax(logits, dim=-1)  # (M, K)
    if rule == "noisy-probs":
        scores = probs + temperature * _gumbel(rows, logits.shape[-1], generators, logits.device)
        confidence, chosen = scores.max(dim=-1)
        return chosen, confidence
    if rule == "greedy":
        noise = _gumbel(rows, 1, generators, logits.device)  # only the confidence's noise
        chosen = logits.argmax(dim=-1)
    else:
        noise = _gumbel(rows, logits.shape[-1] + 1, generators, logits.device)  # one extra column per row
        scaled = logits if sample_temperature == 1.0 else logits / sample_temperature
        chosen = noise[:, :-1].add_(scaled).argmax(dim=-1)  # Gumbel-max: a sample from softmax(scaled)
    chosen_prob = probs.gather(1, chosen[:, None]).squeeze(1)
    confidence = torch.log(chosen_prob.clamp_min(1e-30)) + temperature * noise[:, -1]
    return chosen, confidence


def guided_logits(
    transformer: BidirectionalTransformer,
    inputs: Tensor,
    class_ids: Tensor | None,
    cfg_scale: float,
    at: Tensor | None = None,
    hint: Tensor | None = None,
) -> Tensor:
    """float32 logits over the codebook (the mask class dropped), with guidance if asked: (B, N, K), or
    (M, K) for the M positions `at` ((B, N) bool), batch-major. hint: the fill hint (B, N, 2) or None."""
    k = transformer.config.codebook_size
    if class_ids is None or cfg_scale == 1.0:
        return transformer(inputs, class_ids, at, hint)[..., :k].float()
    conditional = transformer(inputs, class_ids, at, hint)[..., :k].float()
    null = torch.full_like(class_ids, transformer.config.null_class_id)
    unconditional = transformer(inputs, null, at, hint)[..., :k].float()
    return unconditional + cfg_scale * (conditional - unconditional)


def guidance_at(config: DecodeConfig, step: int) -> float:
    """The guidance scale of 0-based `step`: cfg_scale throughout ("constant"), or rising linearly from 1 at the
    first step to cfg_scale at the last ("linear": early steps lay out the picture freely, late ones follow the
    class; MUSE's schedule)."""
    if config.cfg_schedule == "constant" or config.total_steps == 1:
        return config.cfg_scale
    return 1.0 + (config.cfg_scale - 1.0) * step / (config.total_steps - 1)


def masked_count_after_step(step: int, config: DecodeConfig, initial: Tensor, masked_now: Tensor) -> Tensor:
    """How many tokens stay masked after 0-based `step`, per image. initial, masked_now: (B,) int64."""
    if step >= config.total_steps - 1:
        return torch.zeros_like(initial)
    target = torch.floor(gamma(config.schedule, (step + 1) / config.total_steps) * initial.double()).long()
    return torch.minimum(target, (masked_now - 1).clamp_min(0))  # unmask at least one while any remain


def decoding_step(
    logits: Tensor,
    predicted: Tensor,
    token_mask: Tensor,
    initial: Tensor,
    *,
    step: int,
    config: DecodeConfig,
    generator: Generators,
) -> DecodeStep:
    """One step of iterative decoding: what it sees, what it chooses, what it masks again.

    Sees: logits (M, K) for the current inputs at the M masked positions, batch-major (logits[token_mask] of
        a full prediction), the ids so far `predicted` (B, N) (any value where masked), token_mask (B, N) bool
        (True: still masked), and each image's N0 = initial (B,).
    Chooses: a token and a confidence for every masked position (choose_tokens, at the annealed
        temperature t0 * (1 - step / T); with order "halton" the confidence is the position's place in the
        Halton order); known and already decoded tokens have confidence +inf.
    Re-masks: the masked_count_after_step lowest-confidence tokens of each image (mask_lowest).
    Returns the step's DecodeStep (on the logits' device): the new token mask, the ids (this step's
    choice wherever a token was masked before it) and the confidences.
    """
    masked_now = token_mask.sum(dim=1)  # (B,)
    temperature = config.choice_temperature * (1 - step / config.total_steps)
    chosen, chosen_confidence = choose_tokens(
        logits, temperature, config.confidence, masked_now, generator, config.sample_temperature
    )
    if config.order == "halton":  # fix tokens in the fixed order instead of by confidence
        chosen_confidence = halton_priority(token_mask.shape[1], token_mask.device).expand_as(token_mask)[token_mask]
    predicted = predicted.masked_scatter(token_mask, chosen)  # (B, N), no mask id left
    confidence = torch.full(token_mask.shape, KNOWN_CONFIDENCE, device=token_mask.device)
    confidence = confidence.masked_scatter(token_mask, chosen_confidence.float())
    keep = masked_count_after_step(step, config, initial, masked_now)  # (B,)
    return DecodeStep(mask_lowest(confidence, keep), predicted, confidence)


@torch.no_grad()
def decode_tokens(
    transformer: BidirectionalTransformer,
    tokens: Tensor,
    token_mask: Tensor,
    config: DecodeConfig = DecodeConfig(),
    *,
    generator: Generators = None,
    class_ids: Tensor | None = None,
    hint: Tensor | None = None,
    return_trace: bool = False,
    precision: str = "auto",
    micro_batch: int | None = None,
) -> DecodeResult:
    """Fill the masked tokens of a batch by iterative parallel decoding.

    Args:
        transformer: the token predictor (put in eval mode by the caller; see maskgit.MaskGIT).
        tokens: (B, N) int64 ids; values at masked positions are ignored.
        token_mask: (B, N) bool, True where the token is unknown.
        config: steps, sweet spot, schedule, temperature and confidence rule.
        generator: one torch.Generator for the whole batch, or one per image (per_image_generators) so
            that a batch decodes exactly as its images would alone.
        class_ids: (B,) class ids for a class-conditional transformer, else None.
        hint: (B, N, 2) the fill hint for a transformer with fill_hint (MaskGIT.fill_hint), else None: at every
            step the positions still masked see it.
        return_trace: also return a DecodeStep per step.
        precision: "auto" (bf16 autocast where the hardware does bf16 natively, else fp32), "fp32" or "bf16"
            (maskgit.precision); the same default as every command's --precision.
        micro_batch: images per transformer pass; None picks the device's default (8 on a CPU, all on a
            GPU: maskgit.batching.default_micro_batch). The result does not depend on it.
    Returns:
        DecodeResult. Positions still masked after the sweet spot hold the prediction of the last step
        run, so the tokens always decode to a full image; `token_mask` says which they are.
    """
    n_tokens = transformer.config.num_tokens
    if tokens.shape != token_mask.shape or tokens.dim() != 2 or tokens.shape[1] != n_tokens:
        raise InputError(
            f"tokens and token_mask must both be (B, {n_tokens}); "
            f"got {tuple(tokens.shape)} and {tuple(token_mask.shape)}"
        )
    if not isinstance(generator, torch.Generator | Sequence | type(None)) or (
        isinstance(generator, Sequence) and not all(isinstance(g, torch.Generator) for g in generator)
    ):
        kind = type(generator).__name__
        raise InputError(f"generator must be a torch.Generator or a list of them (per_image_generators), got {kind}")
    if not isinstance(generator, (torch.Generator, type(None))) and len(generator) != tokens.shape[0]:
        raise InputError(f"got {len(generator)} generators for a batch of {tokens.shape[0]} images: give one per image")
    mask_id = transformer.config.mask_token_id
    token_mask = grow_token_mask(token_mask.bool(), config.grow)
    initial = token_mask.sum(dim=1)  # (B,) N0 per image
    current = tokens.masked_fill(token_mask, mask_id)  # (B, N)
    transformer.check_values(current, class_ids, hint)  # once, not every step
    predicted = current.clone()
    # One autocast context around the whole loop: the weights are cast to amp_dtype once per decode, not once
    # per step. Only the transformer's matrix work runs in amp_dtype; the choice works on float32 logits.
    amp_dtype = autocast_dtype(precision, tokens.device)
    autocast = torch.autocast(tokens.device.type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()

    scale = config.cfg_scale  # the guidance of the step being run (cfg_schedule)

    def predict(inputs: Tensor, classes: Tensor | None, at: Tensor, hints: Tensor | None) -> Tensor:
        return guided_logits(transformer, inputs, classes, scale, at, hints)

    trace: list[DecodeStep] = []
    decoded_confidence = torch.full(token_mask.shape, KNOWN_CONFIDENCE, device=tokens.device)  # (B, N)
    with autocast:
        for step in range(config.steps_to_run):
            scale = guidance_at(config, step)
            logits = in_micro_batches(predict, current, class_ids, token_mask, hint, size=micro_batch)  # (M, K)
            decided = decoding_step(logits, current, token_mask, initial, step=step, config=config, generator=generator)
            fixed = token_mask & ~decided.token_mask  # decoded for good at this step
            decoded_confidence = torch.where(fixed, decided.confidence, decoded_confidence)
            predicted, token_mask = decided.predicted, decided.token_mask
            current = predicted.masked_fill(token_mask, mask_id)
            if return_trace:
                trace.append(DecodeStep(token_mask.cpu(), predicted.cpu(), decided.confidence.cpu()))
        if config.steps_to_run == config.total_steps:
            for _ in range(config.refine_steps):
                again = mask_lowest(decoded_confidence, torch.ceil(initial * REFINE_SHARE).long())  # least confident
                current = predicted.masked_fill(again, mask_id)
                logits = in_micro_batches(predict, current, class_ids, again, hint, size=micro_batch)
                last = config.total_steps - 1  # decodes every masked token
                decided = decoding_step(logits, current, again, initial, step=last, config=config, generator=generator)
                decoded_confidence = torch.where(again, decided.confidence, decoded_confidence)
                predicted = decided.predicted
                if return_trace:  # the last step's entry holds the refined result
                    trace[-1] = DecodeStep(token_mask.cpu(), predicted.cpu(), decided.confidence.cpu())
    return DecodeResult(tokens=predicted, token_mask=token_mask, trace=trace)
