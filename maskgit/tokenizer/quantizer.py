"""Vector quantizer: nearest code by L2 distance, straight-through gradients, codebook upkeep.

Two ways to learn the codebook:
- by gradient (default): loss = ||sg[z] - e||^2 + beta * ||z - sg[e]||^2 (VQ-VAE);
- by EMA (`ema=True`): codes track the running mean of the latents assigned to them; only the
  commitment term beta * ||z - sg[e]||^2 is a loss.
Either way `code_usage` keeps an EMA of how often each code is chosen, and `restart_dead_codes`
moves codes that fell out of use onto random encoder outputs (called by the training loop).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class QuantizerOutput:
    quantized: Tensor  # (B, D, h, w): the chosen codes, with straight-through gradient to the latents
    tokens: Tensor  # (B, h, w) int64 code ids
    loss: Tensor  # scalar: codebook + commitment loss (commitment only with EMA codes)
    perplexity: Tensor  # scalar: exp(entropy) of the code histogram of this batch, in [1, codebook_size]


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


class VectorQuantizer(nn.Module):
    def __init__(
        self, codebook_size: int, dim: int, beta: float = 0.25, ema: bool = False, ema_decay: float = 0.99
    ) -> None:
        super().__init__()
        self.codebook_size = codebook_size
        self.dim = dim
        self.beta = beta
        self.ema = ema
        self.ema_decay = ema_decay
        self.codebook = nn.Embedding(codebook_size, dim)  # (K, D)
        nn.init.uniform_(self.codebook.weight, -1.0 / codebook_size, 1.0 / codebook_size)
        # Fraction of assignments each code received, EMA over training batches. It starts at 0, so a code
        # that no latent chooses counts as dead at the first restart check, not hundreds of steps later.
        self.register_buffer("code_usage", torch.zeros(codebook_size))
        if ema:
            self.codebook.weight.requires_grad_(False)
            self.register_buffer("ema_cluster_size", torch.zeros(codebook_size))
            self.register_buffer("ema_code_sum", self.codebook.weight.detach().clone())

    def nearest_codes(self, latents: Tensor) -> Tensor:
        """(M, D) latents -> (M,) ids of the nearest codes by squared L2 distance (computed in fp32)."""
        z = latents.float()
        codes = self.codebook.weight.float()
        distances = (z * z).sum(1, keepdim=True) - 2 * z @ codes.t() + (codes * codes).sum(1)[None, :]  # (M, K)
        return distances.argmin(dim=1)

    def lookup(self, tokens: Tensor) -> Tensor:
        """(B, h, w) int64 ids -> (B, D, h, w) code vectors."""
        return self.codebook(tokens).permute(0, 3, 1, 2).contiguous()

    def forward(self, latents: Tensor) -> QuantizerOutput:
        b, d, h, w = latents.shape
        flat = latents.permute(0, 2, 3, 1).reshape(-1, d)  # (M, D), M = B*h*w
        ids = self.nearest_codes(flat)  # (M,)
        counts = torch.bincount(ids, minlength=self.codebook_size).float()  # (K,)
        if self.training:
            self._update_statistics(flat.detach().float(), ids, counts)
        quantized = self.codebook(ids).view(b, h, w, d).permute(0, 3, 1, 2)  # (B, D, h, w)
        commitment = F.mse_loss(latents, quantized.detach())
        loss = self.beta * commitment
        if not self.ema:
            loss = loss + F.mse_loss(quantized, latents.detach())
        probs = counts / counts.sum()
        perplexity = torch.exp(-(probs * torch.log(probs.clamp_min(1e-10))).sum())
        quantized = latents + (quantized - latents).detach()  # straight-through estimator
        return QuantizerOutput(quantized=quantized, tokens=ids.view(b, h, w), loss=loss, perplexity=perplexity)

    @torch.no_grad()
    def _update_statistics(self, flat: Tensor, ids: Tensor, counts: Tensor) -> None:
        if _distributed():  # every rank must hold the same statistics, hence the same codebook
            dist.all_reduce(counts)
        decay = self.ema_decay
        self.code_usage.mul_(decay).add_(counts / counts.sum(), alpha=1 - decay)
        if not self.ema:
            return
        code_sum = torch.zeros(self.codebook_size, self.dim, device=flat.device).index_add_(0, ids, flat)  # (K, D)
        if _distributed():
            dist.all_reduce(code_sum)
        self.ema_cluster_size.mul_(decay).add_(counts, alpha=1 - decay)
        self.ema_code_sum.mul_(decay).add_(code_sum, alpha=1 - decay)
        # Laplace smoothing keeps never-chosen codes from dividing by zero.
        n = self.ema_cluster_size.sum()
        size = (self.ema_cluster_size + 1e-5) / (n + self.codebook_size * 1e-5) * n
        self.codebook.weight.copy_(self.ema_code_sum / size[:, None])

    @torch.no_grad()
    def restart_dead_codes(self, latents: Tensor, threshold: float = 0.03) -> int:
        """Move every code used less than `threshold` times its uniform share onto a random latent.

        Args:
            latents: (M, D) or (B, D, h, w) encoder outputs of a recent batch to draw new codes from.
            threshold: a code is dead when code_usage < threshold / codebook_size.
        Returns:
            How many codes were restarted.
        """
        if latents.dim() == 4:
            latents = latents.permute(0, 2, 3, 1).reshape(-1, self.dim)
        dead = self.code_usage < threshold / self.codebook_size  # (K,)
        num_dead = int(dead.sum())
        if num_dead == 0:
            return 0
        picks = torch.randint(0, latents.shape[0], (num_dead,), device=latents.device)
        new_codes = latents[picks].float() + 1e-3 * torch.randn(num_dead, self.dim, device=latents.device)
        if _distributed():  # all ranks take rank 0's choice
            dist.broadcast(new_codes, src=0)
        self.codebook.weight[dead] = new_codes.to(self.codebook.weight.dtype)
        self.code_usage[dead] = 0.0  # restarted again at the next check unless latents start choosing it
        if self.ema:
            self.ema_cluster_size[dead] = 1.0
            self.ema_code_sum[dead] = new_codes
        return num_dead
