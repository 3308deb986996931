"""Decoding options, shared by inpainting and generation, and the named settings (DECODE_PRESETS).

The dataclass defaults are the best inpainting settings measured on the emoji benchmark (MODEL_CARD.md);
generation has its own measured preset, and the seeds' lab settings stay one name away ("seeds").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from maskgit.config import require, typed_fields
from maskgit.errors import ConfigError
from maskgit.masking.schedules import check_schedule

ConfidenceRule = Literal["greedy", "sampled", "noisy-probs"]
CONFIDENCE_RULES = ("greedy", "sampled", "noisy-probs")  # named by what they do (README: Confidence)
GuidanceSchedule = Literal["constant", "linear"]
GUIDANCE_SCHEDULES = ("constant", "linear")
TokenOrder = Literal["confidence", "halton"]
TOKEN_ORDERS = ("confidence", "halton")
RENAMED_RULES = {"seed": "noisy-probs", "official": "sampled"}  # earlier names, for a helpful error


@dataclass(frozen=True)
class DecodeConfig:
    """How MaskGIT's iterative parallel decoding runs.

    total_steps: T, the number of steps the schedule is spread over.
    sweet_spot: S <= T, stop after S steps (None means T). Tokens still masked then are returned with
        the prediction of step S (see decode_tokens).
    schedule: the mask schedule gamma (maskgit.masking.SCHEDULES).
    choice_temperature: t0; step t (0-based) uses temperature t0 * (1 - t / T).
    confidence: "greedy": chosen = argmax p (no sampling), confidence = log p(chosen) + temperature * g
        with one Gumbel draw g per token: noise only decides the order in which tokens are fixed;
        "sampled": chosen ~ softmax(logits), confidence as in "greedy" (google-research/maskgit's rule);
        "noisy-probs": chosen = argmax(p + temperature * g) over the codebook with a Gumbel draw g per
        code, confidence = p(chosen) + temperature * g(chosen) (the seeds' rule).
    sample_temperature: the "sampled" rule draws from softmax(logits / sample_temperature): below 1 it favours
        the likelier codes (sharper, less varied images), 1 is the model's own distribution (MaskGIT's; the
        softmax temperature of MUSE's and Halton-MaskGIT's samplers). The confidence is still the model's log p.
    cfg_scale: classifier-free guidance for class-conditional models; logits = u + cfg_scale * (c - u),
        so 1.0 is plain conditional decoding.
    cfg_schedule: "constant" (cfg_scale at every step) or "linear" (from 1 at the first step up to cfg_scale
        at the last; maskgit.decoding.parallel_decode.guidance_at).
    order: which masked tokens a step fixes: "confidence" (the most confident, MaskGIT's rule) or "halton" (the
        earliest in a fixed low-discrepancy order over the grid, Halton-MaskGIT's; maskgit.decoding.halton). The
        confidence rule still chooses each token's id.
    refine_steps: after the T steps, this many passes that mask again the quarter of the decoded tokens
        decoded with the lowest confidence and decode them in one step, seeing all the others (0: none).
    Inpainting only (generation has no known pixels):
    grow: the unknown tokens grown by this many rings of neighbours, which are decoded again too (the official
        MaskGIT editing recipe grows its token mask; 0: only tokens with missing pixels).
    blend: the decoded image blended in through the pixel mask blurred by a Gaussian of this sigma (pixels),
        so known pixels next to a hole shade into the fill (missing pixels are always the decoder's);
        0 pastes the decoded pixels into the holes (the seeds'). Sigma 1 measured better than pasting on both
        emoji benchmarks (MODEL_CARD.md, "Decoding for inpainting").
    """

    total_steps: int = 4
    sweet_spot: int | None = None
    schedule: str = "square"
    choice_temperature: float = 4.5
    confidence: ConfidenceRule = "greedy"
    sample_temperature: float = 1.0
    cfg_scale: float = 1.0
    cfg_schedule: GuidanceSchedule = "constant"
    order: TokenOrder = "confidence"
    refine_steps: int = 0
    grow: int = 0
    blend: float = 1.0

    def __post_init__(self) -> None:
        renamed = RENAMED_RULES.get(self.confidence) if isinstance(self.confidence, str) else None
        # before the type checks, which would only say that the old name is not a rule
        require(renamed is None, f"the confidence rule {self.confidence!r} is now called {renamed!r}")
        typed_fields(self)
        require(self.total_steps >= 1, f"total_steps must be at least 1, got {self.total_steps}")
        require(
            self.sweet_spot is None or 1 <= self.sweet_spot <= self.total_steps,
            f"sweet_spot must be between 1 and total_steps ({self.total_steps}), got {self.sweet_spot}",
        )
        check_schedule(self.schedule)
        require(
            self.cfg_schedule in GUIDANCE_SCHEDULES,
            f"cfg_schedule must be one of {', '.join(GUIDANCE_SCHEDULES)}, got {self.cfg_schedule!r}",
        )
        require(self.order in TOKEN_ORDERS, f"order must be one of {', '.join(TOKEN_ORDERS)}, got {self.order!r}")
        for name in ("refine_steps", "grow", "blend"):
            require(getattr(self, name) >= 0, f"{name} must be at least 0, got {getattr(self, name)}")
        require(self.choice_temperature >= 0, f"choice_temperature must be >= 0, got {self.choice_temperature}")
        require(self.sample_temperature > 0, f"sample_temperature must be > 0, got {self.sample_temperature}")
        require(
            self.confidence in CONFIDENCE_RULES,
            f"confidence must be one of {', '.join(CONFIDENCE_RULES)}, got {self.confidence!r}",
        )

    @property
    def steps_to_run(self) -> int:
        return self.total_steps if self.sweet_spot is None else self.sweet_spot

    @staticmethod
    def preset(name: str) -> DecodeConfig:
        if name not in DECODE_PRESETS:
            raise ConfigError(f"unknown decoding preset {name!r}: choose one of {', '.join(DECODE_PRESETS)}")
        return DECODE_PRESETS[name]


DECODE_PRESETS = {
    "inpaint": DecodeConfig(),  # the best measured on both emoji inpainting benchmarks (MODEL_CARD.md)
    "generate": DecodeConfig(  # the best measured on 3 seeds of emoji generation (MODEL_CARD.md: "Leg 5", "Leg 12",
        # "The choice temperature t0")
        total_steps=20,
        schedule="cosine",
        choice_temperature=4.5,
        confidence="sampled",
        sample_temperature=0.8,
        cfg_scale=3.0,
    ),
    "seeds": DecodeConfig(
        total_steps=20, schedule="cosine", choice_temperature=4.5, confidence="noisy-probs", blend=0.0
    ),  # the lab's: decoded pixels pasted into the holes
}
