"""Precision, decided at run time: bf16 autocast where the hardware does bf16 natively, fp32 elsewhere.

One rule for training (`precision` in the training configs), decoding (`MaskGIT.inpaint`, `generate`,
`decode_tokens`, `--precision` of every command): "auto" (the default everywhere) is bf16 autocast on a GPU
and on CPUs with AVX-512 BF16 or AMX, fp32 on other CPUs (AVX2 only), where bf16 is emulated and 3-4x
slower (docs/benchmarks.md). "fp32" gives figures that are the same on every machine (`maskgit demo` uses it).
"""

from __future__ import annotations

import torch

from maskgit.errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16")


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU does bf16 matrix work natively (AVX-512 BF16 or AMX), decided at run time.

    Where it does, a training step of the emoji transformer ran 1.9x faster under bf16 autocast than in
    fp32; where it does not (AVX2 only), bf16 is emulated and 3-4x slower (docs/benchmarks.md).
    """
    cpu = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def autocast_dtype(precision: str, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype for a precision on a device: bf16 for "bf16", and for "auto" on a GPU or a CPU with
    native bf16; None (fp32) otherwise."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    device = torch.device(device)
    fast_bf16 = device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16())
    if precision == "bf16" or (precision == "auto" and fast_bf16):
        return torch.bfloat16
    return None
