"""A port of the seeds' inpainting loop (seed 000), kept as the baseline that benchmarks/decode.py beats.

It is deliberately the seeds' structure: one image at a time, the image re-tokenized by the VQGAN
encoder at every step (seed 000's `inpainting` calls `encode_to_z` each time), explicit (non-fused)
attention, fp32, softmax over every class, a Gumbel draw for every class of every token,
`tokens_to_unmask = masked - floor(gamma(t/T) * N0)` with t/T as the ratio, and the predicted image
decoded at every step (the lab's `inpainting.py` template, which both seeds fill in, decodes each step
for its per-step picture grid; writing the PNGs is left out here). One fix keeps it a working
decoder: masked tokens are replaced by the mask id before the transformer sees them (seed 000's
listing feeds it the unmasked ids).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from maskgit import MaskGIT, gamma


@torch.no_grad()
def seed_inpaint_one(
    model: MaskGIT,
    image: Tensor,
    token_mask: Tensor,
    total_iter: int,
    sweet_spot: int,
    schedule: str = "cosine",
    choice_temperature: float = 4.5,
) -> Tensor:
    """image: (1, C, H, W); token_mask: (1, N) bool. Returns the decoded image (1, C, H, W)."""
    mask_token_id = model.transformer.config.mask_token_id
    mask_b = token_mask.clone()
    mask_num = int(mask_b.sum())
    z_indices_predict = None
    grid = model.tokenizer.config.grid_size
    decoded = image
    for step in range(total_iter):
        if step == sweet_spot:
            break
        ratio = step / total_iter
        z_indices = model.tokenizer.encode(image).view(1, -1)  # re-tokenized at every step, as in the seed
        if z_indices_predict is not None:
            z_indices[~mask_b] = z_indices_predict[~mask_b]
        logits = model.transformer(z_indices.masked_fill(mask_b, mask_token_id))
        probs = torch.nn.functional.softmax(logits, dim=-1)
        g = -torch.log(-torch.log(torch.rand_like(probs)))
        temperature = choice_temperature * (1 - ratio)
        confidence = probs + temperature * g
        z_indices_predict = torch.argmax(confidence, dim=-1)
        z_indices_predict[~mask_b] = z_indices[~mask_b]
        z_indices_predict[z_indices_predict == mask_token_id] = 0
        confidence, _ = torch.max(confidence, dim=-1)
        confidence[~mask_b] = -float("inf")
        tokens_to_unmask = int(mask_b.sum()) - math.floor(gamma(schedule, ratio) * mask_num)
        _, indices = torch.topk(confidence, tokens_to_unmask, dim=-1)
        if indices.nelement() > 0:
            mask_b[0, indices[0]] = False
        decoded = model.tokenizer.decode(z_indices_predict.view(1, grid, grid))  # the per-step picture
    return decoded
