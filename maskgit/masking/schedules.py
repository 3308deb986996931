"""Mask schedules gamma(r): the fraction of tokens still masked at decoding progress r.

Every schedule maps r in [0, 1] to [0, 1] with gamma(0) = 1 (all masked), gamma(1) = 0 (none masked)
and is non-increasing. Training draws r ~ U(0, 1) and masks ceil(gamma(r) * N) tokens; decoding keeps
floor(gamma((t + 1) / T) * N0) tokens masked after step t.

`cosine`, `linear` and `square` are the seeds' schedules; the rest follow the official MaskGIT
(`libml/mask_schedule.py`). Its `log` and `exp` depend on the number of unknown tokens; here they are
fixed at 256 tokens (LOG2_TOKENS = 8, the 16x16 grid) and `exp` is rescaled so that gamma(0) = 1
exactly, which keeps every schedule a function of r alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from maskgit.errors import ConfigError

LOG2_TOKENS = 8.0  # log2(16 * 16): the sharpness of `log` and `exp`

ScheduleFn = Callable[[Tensor], Tensor]


def _exp(r: Tensor) -> Tensor:
    # 1 - 2^(-k (1 - r)), divided by its value at r = 0 so that gamma(0) = 1
    return (1 - torch.exp2(-LOG2_TOKENS * (1 - r))) / (1 - 2.0**-LOG2_TOKENS)


def _log(r: Tensor) -> Tensor:
    # -log2(r) / k, which exceeds 1 near r = 0: the clamp in `gamma` makes it 1 there
    return -torch.log2(r.clamp_min(1e-30)) / LOG2_TOKENS


SCHEDULES: dict[str, ScheduleFn] = {
    "cosine": lambda r: torch.cos(r * (math.pi / 2)),
    "linear": lambda r: 1 - r,
    "square": lambda r: 1 - r**2,
    "cubic": lambda r: 1 - r**3,
    "sqrt": lambda r: 1 - torch.sqrt(r),
    "log": _log,
    "exp": _exp,
}


def check_schedule(name: str) -> str:
    """Return `name` if it names a schedule, else raise a ConfigError listing the valid ones."""
    if name not in SCHEDULES:
        raise ConfigError(f"unknown mask schedule {name!r}: choose one of {', '.join(SCHEDULES)}")
    return name


def gamma(name: str, r: float | Tensor) -> float | Tensor:
    """The mask schedule `name` evaluated at progress `r` (a float or a tensor of any shape).

    Args:
        name: a key of SCHEDULES.
        r: progress in [0, 1]; values outside are clamped.
    Returns:
        The masked fraction in [0, 1], a float for a float input, else a tensor shaped like `r`.
    """
    fn = SCHEDULES[check_schedule(name)]
    as_float = not isinstance(r, Tensor)
    t = torch.as_tensor(r, dtype=torch.float64).clamp(0, 1)
    value = fn(t).clamp(0, 1)
    value = torch.where(t >= 1, torch.zeros_like(value), value)  # exact 0 at the end (cos(pi/2) != 0)
    return float(value) if as_float else value.to(r.dtype if r.is_floating_point() else torch.float64)
