"""The bidirectional transformer of MaskGIT: token ids (mask id allowed) -> logits over the codebook."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from maskgit.errors import InputError
from maskgit.transformer.attention import MultiHeadAttention
from maskgit.transformer.config import FILL_DEPTHS, TransformerConfig
from maskgit.transformer.dropout import Dropout


class MLP(nn.Sequential):
    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim), Dropout(dropout))


class Block(nn.Module):
    """Self-attention and MLP, each with a residual; LayerNorm before (pre) or after (post) the sum."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.pre_norm = config.norm == "pre"
        self.attention = MultiHeadAttention(config.dim, config.heads, config.attn_dropout)
        self.dropout = Dropout(config.dropout)
        self.norm1 = nn.LayerNorm(config.dim, eps=config.layer_norm_eps)
        self.norm2 = nn.LayerNorm(config.dim, eps=config.layer_norm_eps)
        self.mlp = MLP(config.dim, config.mlp_hidden, config.dropout)

    def forward(self, x: Tensor) -> Tensor:  # (B, L, D) -> (B, L, D)
        if self.pre_norm:
            x = x + self.dropout(self.attention(self.norm1(x)))
            return x + self.mlp(self.norm2(x))
        x = self.norm1(x + self.dropout(self.attention(x)))
        return self.norm2(x + self.mlp(x))


class BidirectionalTransformer(nn.Module):
    """Embeds token ids, runs `depth` blocks with full (bidirectional) attention and predicts each token.

    Logits are the token predictor's output times the token embedding transposed, plus a per-position
    bias (the seeds' head), over `output_classes` classes.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        d = config.dim
        self.token_embedding = nn.Embedding(config.codebook_size + 1, d)  # last row: the mask token
        self.class_embedding = nn.Embedding(config.num_classes + 1, d) if config.num_classes else None
        self.hint_embedding = self.depth_embedding = None
        if config.fill_hint:  # what the fill put in a hole, and how deep: both start at zero (no hint, no change)
            self.hint_embedding = nn.Embedding(config.codebook_size + 1, d, padding_idx=config.codebook_size)
            self.depth_embedding = nn.Embedding(FILL_DEPTHS, d, padding_idx=0)
        sequence = config.num_tokens + (1 if config.num_classes else 0)
        self.position_embedding = nn.Parameter(torch.zeros(1, sequence, d))
        post = config.norm == "post"
        self.embed_norm = nn.LayerNorm(d, eps=config.layer_norm_eps) if post else nn.Identity()
        self.embed_dropout = Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.final_norm = nn.Identity() if post else nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.token_predictor = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d, eps=config.layer_norm_eps))
        self.output_bias = nn.Parameter(torch.zeros(config.num_tokens, config.output_classes))
        self.apply(self._init_weights)
        nn.init.trunc_normal_(self.position_embedding, std=0.02)
        for hint in (self.hint_embedding, self.depth_embedding):
            if hint is not None:
                nn.init.zeros_(hint.weight)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.trunc_normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    @torch.no_grad()
    def init_token_embedding(self, codebook: Tensor, seed: int = 0) -> None:
        """Start the code rows of the token embedding (the input embedding, and the output head, which is tied to
        it) from the VQ codebook (K, D), mapped to the model's width by a fixed random orthonormal projection and
        scaled to the usual init std (0.02): codes that draw alike start alike."""
        k, width = self.config.codebook_size, self.config.dim
        if codebook.shape[0] != k:
            raise InputError(f"the codebook has {codebook.shape[0]} codes, this transformer {k}")
        generator = torch.Generator().manual_seed(seed)
        basis = torch.randn(max(width, codebook.shape[1]), codebook.shape[1], generator=generator)
        projection = torch.linalg.qr(basis).Q[:width]  # (width, D)
        embedding = (codebook.float().cpu() - codebook.float().cpu().mean(0)) @ projection.T  # (K, width)
        embedding *= 0.02 / embedding.std().clamp_min(1e-12)
        self.token_embedding.weight[:k] = embedding.to(self.token_embedding.weight)

    @torch.no_grad()
    def start_from(self, start: BidirectionalTransformer) -> None:
        """Continue a trained transformer: copy its weights into this one, which may add inputs (the fill hint)
        and blocks on top (a larger `depth`). What is new starts so that this model computes exactly what `start`
        did: the hint embeddings at zero, each new block the identity (its attention and MLP outputs zeroed, so
        only its residual passes; pre-LN only) until training moves it."""
        new_blocks = range(start.config.depth, self.config.depth)
        if new_blocks and self.config.norm != "pre":
            raise InputError("only a pre-LN transformer can grow: a post-LN block normalises its residual")
        added = ("hint_embedding.", "depth_embedding.", *(f"blocks.{i}." for i in new_blocks))
        mine, theirs = self.state_dict(), start.state_dict()
        other = [name for name, w in theirs.items() if name not in mine or mine[name].shape != w.shape]
        other += [name for name in mine if name not in theirs and not name.startswith(added)]
        if other:
            raise InputError(f"cannot start from a transformer with other weights: {other[:4]}")
        self.load_state_dict(theirs, strict=False)
        for i in new_blocks:
            block = self.blocks[i]
            for layer in (block.attention.out_proj, block.mlp[2]):  # the residual branches' outputs
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def set_fused_attention(self, fused: bool) -> None:
        """Switch every attention layer between the fused kernel and the explicit reference math."""
        for block in self.blocks:
            block.attention.fused = fused

    def check_inputs(self, tokens: Tensor, class_ids: Tensor | None, hint: Tensor | None = None) -> None:
        """Shapes and dtypes, on every forward (no look at the values: that would sync a GPU every step)."""
        c = self.config
        if tokens.dim() != 2 or tokens.shape[1] != c.num_tokens or tokens.dtype != torch.int64:
            raise InputError(
                f"expected int64 tokens of shape (B, {c.num_tokens}), got {tuple(tokens.shape)} {tokens.dtype}"
            )
        if hint is not None:
            if not c.fill_hint:
                raise InputError("a fill hint given to a transformer built without one (fill_hint = False)")
            if hint.shape != (*tokens.shape, 2) or hint.dtype != torch.int64:
                got = f"{tuple(hint.shape)} {hint.dtype}"
                raise InputError(
                    f"the fill hint must be int64 of shape ({tokens.shape[0]}, {c.num_tokens}, 2), got {got}"
                )
        if class_ids is not None:
            if not c.num_classes:
                raise InputError("class_ids given to a transformer built without classes (num_classes = 0)")
            if class_ids.shape != (tokens.shape[0],) or class_ids.dtype != torch.int64:
                got = f"{tuple(class_ids.shape)} {class_ids.dtype}"
                raise InputError(f"class_ids must be int64 of shape ({tokens.shape[0]},), got {got}")

    def check_values(self, tokens: Tensor, class_ids: Tensor | None = None, hint: Tensor | None = None) -> None:
        """Token, class and hint ids in range: checked once where data enters (decode_tokens), not every step."""
        c = self.config
        self.check_inputs(tokens, class_ids, hint)
        if tokens.device.type == "meta":  # shape-only runs (the big presets are built on the meta device)
            return
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) > c.mask_token_id):
            raise InputError(f"token ids must lie in [0, {c.mask_token_id}] (mask id {c.mask_token_id} included)")
        if class_ids is not None and (int(class_ids.min()) < 0 or int(class_ids.max()) > c.num_classes):
            raise InputError(f"class ids must lie in [0, {c.num_classes}] (the null class {c.num_classes} included)")
        if hint is not None and hint.numel():
            fill, depth = hint.unbind(-1)
            if int(fill.min()) < 0 or int(fill.max()) > c.codebook_size or int(depth.min()) < 0:
                raise InputError(f"fill hint tokens must lie in [0, {c.codebook_size}] and depths be >= 0")
            if int(depth.max()) >= FILL_DEPTHS:
                raise InputError(f"fill hint depths must lie in [0, {FILL_DEPTHS - 1}]")

    def forward(
        self, tokens: Tensor, class_ids: Tensor | None = None, at: Tensor | None = None, hint: Tensor | None = None
    ) -> Tensor:
        """Predict every position, or only the positions `at`.

        Args:
            tokens: (B, N) int64 ids in [0, codebook_size]; codebook_size is the mask token.
            class_ids: (B,) int64 in [0, num_classes] for a class-conditional model (num_classes = null
                class, the unconditional branch of classifier-free guidance); None means null class.
            at: (B, N) bool, the positions to predict (decoding needs only the masked ones: the output head,
                a (D x C) matrix per position, runs only there); None predicts every position.
            hint: (B, N, 2) int64 for a model with fill_hint: [..., 0] the token the tokenizer saw at each
                position of the filled image (codebook_size: none), [..., 1] its depth in the hole
                (maskgit.decoding.token_mask.fill_depth; 0: none). Added to the input at masked positions
                only; None (or all none) is the model without the hint, exactly.
        Returns:
            (B, N, output_classes) logits, or (M, output_classes) for the M positions `at`, batch-major
            (the rows of logits[at]).
        """
        self.check_inputs(tokens, class_ids, hint)
        x = self.token_embedding(tokens)  # (B, N, D)
        if hint is not None and self.hint_embedding is not None and self.depth_embedding is not None:
            masked = (tokens == self.config.mask_token_id)[..., None]  # (B, N, 1)
            x = x + masked * (self.hint_embedding(hint[..., 0]) + self.depth_embedding(hint[..., 1]))
        if self.class_embedding is not None:
            if class_ids is None:
                class_ids = torch.full((tokens.shape[0],), self.config.null_class_id, device=tokens.device)
            x = torch.cat([self.class_embedding(class_ids)[:, None, :], x], dim=1)  # (B, 1 + N, D)
        x = self.embed_dropout(self.embed_norm(x + self.position_embedding))
        for block in self.blocks:
            x = block(x)
        x = x[:, -self.config.num_tokens :]  # drop the class position: (B, N, D)
        bias = self.output_bias  # (N, C)
        if at is not None:  # the bias rows by position: its gradient is (N, C), not a (B, N, C) scatter
            x, bias = x[at], bias[at.nonzero(as_tuple=True)[1]]  # (M, D), (M, C)
        h = self.token_predictor(self.final_norm(x))
        weight = self.token_embedding.weight[: self.config.output_classes]  # (C, D)
        return h @ weight.t() + bias  # (B, N, C) or (M, C)
