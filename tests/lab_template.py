"""The lab's model code, rebuilt for the tests from a reading of its public template (models/VQGAN,
models/Transformer in students' repositories): the same module tree, hence the same state-dict names, and
the same arithmetic. Only what the import tests need: forward passes, and files saved the lab's way."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LAB_VQGAN_YAML = """\
---
    MODEL_NAME: VQ_GAN
    model_param:
      image_channels: 3
      enc_channels: [{enc}]
      dec_channels: [{dec}]
      latent_dim: {latent}
      img_resolution: 64
      latent_resolution: 16
      num_codebook_vectors: {codes}
      beta: 0.25
"""

LAB_MASKGIT_YAML = """\
---
    MODEL_NAME: MaskGit
    model_param:
      VQ_Configs:
        VQ_config_path: models/VQGAN/config/VQGAN.yml
        VQ_CKPT_path: models/VQGAN/checkpoints/VQGAN.pt
      num_image_tokens: 256
      num_codebook_vectors: {codes}
      choice_temperature: 4.5
      gamma_type: cosine
      Transformer_param:
        num_image_tokens: 256
        num_codebook_vectors: {codes}
        dim: {dim}
        n_layers: {layers}
        hidden_dim: {hidden}
"""

# The lab's Normalize on 0..1 pixels (utils.py, training statistics).
MEAN = torch.tensor([0.4816, 0.4324, 0.3845]).view(1, 3, 1, 1)
STD = torch.tensor([0.2602, 0.2518, 0.2537]).view(1, 3, 1, 1)


class GroupNorm(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.gn = nn.GroupNorm(32, channels, eps=1e-6)

    def forward(self, x):
        return self.gn(x)


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


class ResidualBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.cin, self.cout = cin, cout
        self.block = nn.Sequential(
            GroupNorm(cin),
            Swish(),
            nn.Conv2d(cin, cout, 3, 1, 1),
            GroupNorm(cout),
            Swish(),
            nn.Conv2d(cout, cout, 3, 1, 1),
        )
        if cin != cout:
            self.channel_up = nn.Conv2d(cin, cout, 1, 1, 0)

    def forward(self, x):
        return self.block(x) + (self.channel_up(x) if self.cin != self.cout else x)


class UpSampleBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0))


class DownSampleBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 2, 0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class NonLocalBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = GroupNorm(c)
        self.q, self.k, self.v = (nn.Conv2d(c, c, 1) for _ in range(3))
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x):
        h = self.norm(x)
        q, k, v = self.q(h), self.k(h), self.v(h)
        b, c, hh, ww = q.shape
        q = q.reshape(b, c, hh * ww).permute(0, 2, 1)
        k, v = k.reshape(b, c, hh * ww), v.reshape(b, c, hh * ww)
        attn = F.softmax(torch.bmm(q, k) * (c**-0.5), dim=2).permute(0, 2, 1)
        return x + self.proj_out(torch.bmm(v, attn).reshape(b, c, hh, ww))


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, res = cfg["enc_channels"], cfg["img_resolution"]
        layers = [nn.Conv2d(cfg["image_channels"], ch[0], 3, 1, 1)]
        for i in range(len(ch) - 1):
            cin = ch[i]
            for _ in range(2):
                layers.append(ResidualBlock(cin, ch[i + 1]))
                cin = ch[i + 1]
                if res in [cfg["latent_resolution"]]:
                    layers.append(NonLocalBlock(cin))
            if i in (2, 4):
                layers.append(DownSampleBlock(ch[i + 1]))
                res //= 2
        c = ch[-1]
        layers += [ResidualBlock(c, c), NonLocalBlock(c), ResidualBlock(c, c), GroupNorm(c), Swish()]
        layers.append(nn.Conv2d(c, cfg["latent_dim"], 3, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, res = cfg["dec_channels"], cfg["latent_resolution"]
        c = ch[-1]
        layers = [nn.Conv2d(cfg["latent_dim"], c, 3, 1, 1), ResidualBlock(c, c), NonLocalBlock(c), ResidualBlock(c, c)]
        for i in reversed(range(len(ch))):
            for _ in range(3):
                layers.append(ResidualBlock(c, ch[i]))
                c = ch[i]
                if res in [cfg["latent_resolution"]]:
                    layers.append(NonLocalBlock(c))
            if i in (4, 2):
                layers.append(UpSampleBlock(c))
                res *= 2
        layers += [GroupNorm(c), nn.Conv2d(c, cfg["image_channels"], 3, 1, 1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class Codebook(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embedding = nn.Embedding(cfg["num_codebook_vectors"], cfg["latent_dim"])

    def forward(self, z):  # (B, D, h, w) -> quantized, flat indices (B*h*w,)
        z = z.permute(0, 2, 3, 1).contiguous()
        flat = z.view(-1, z.shape[-1])
        e = self.embedding.weight
        d = (flat**2).sum(1, keepdim=True) + (e**2).sum(1) - 2 * flat @ e.t()
        indices = d.argmin(1)
        return self.embedding(indices).view(z.shape).permute(0, 3, 1, 2), indices


class LabVQGAN(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.encoder, self.decoder, self.codebook = Encoder(cfg), Decoder(cfg), Codebook(cfg)
        self.quant_conv = nn.Conv2d(cfg["latent_dim"], cfg["latent_dim"], 1)
        self.post_quant_conv = nn.Conv2d(cfg["latent_dim"], cfg["latent_dim"], 1)

    def encode(self, x):  # normalized images -> (B, h*w) ids, as encode_to_z returns them
        zq, indices = self.codebook(self.quant_conv(self.encoder(x)))
        return indices.view(zq.shape[0], -1)

    def decode_ids(self, ids, grid):  # (B, h*w) -> normalized images, as the lab's inpainting decodes
        z = self.codebook.embedding(ids).view(ids.shape[0], grid, grid, -1).permute(0, 3, 1, 2)
        return self.decoder(self.post_quant_conv(z))


# ---- the transformer ------------------------------------------------------------------------------
class SeparateAttention(nn.Module):
    """q/k/v/out linears under the names a student chose (q_linear..., query..., with or without bias)."""

    def __init__(self, dim, heads, names=("q_linear", "k_linear", "v_linear", "out_linear"), bias=True):
        super().__init__()
        self.heads, self.names = heads, names
        for name in names:
            setattr(self, name, nn.Linear(dim, dim, bias=bias))

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = (getattr(self, name)(x).view(b, n, self.heads, -1).transpose(1, 2) for name in self.names[:3])
        w = F.softmax(q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5, dim=-1)
        return getattr(self, self.names[3])((w @ v).transpose(1, 2).reshape(b, n, d))


class FusedAttention(nn.Module):
    """One qkv linear (rows q, k, v) and an output projection, timm-style."""

    def __init__(self, dim, heads, names=("qkv", "proj"), bias=True):
        super().__init__()
        self.heads, self.names = heads, names
        setattr(self, names[0], nn.Linear(dim, 3 * dim, bias=bias))
        setattr(self, names[1], nn.Linear(dim, dim, bias=bias))

    def forward(self, x):
        b, n, d = x.shape
        qkv = getattr(self, self.names[0])(x).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        w = F.softmax(q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5, dim=-1)
        return getattr(self, self.names[1])((w @ v).transpose(1, 2).reshape(b, n, d))


class EncoderLayer(nn.Module):
    def __init__(self, dim, hidden, attention):
        super().__init__()
        self.Attention = attention
        self.LayerNorm1 = nn.LayerNorm(dim, eps=1e-12)
        self.LayerNorm2 = nn.LayerNorm(dim, eps=1e-12)
        self.MLP = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim), nn.Dropout(0.1))
        self.dropout = nn.Dropout(0.1)

    def forward(self, x):
        x = self.LayerNorm1(x + self.dropout(self.Attention(x)))
        return self.LayerNorm2(x + self.MLP(x))


class LabTransformer(nn.Module):
    def __init__(self, cfg, make_attention):
        super().__init__()
        dim, n, codes = cfg["dim"], cfg["num_image_tokens"], cfg["num_codebook_vectors"]
        self.tok_emb = nn.Embedding(codes + 1, dim)
        self.pos_emb = nn.Parameter(torch.randn(n, dim) * 0.02)
        self.blocks = nn.Sequential(
            *(EncoderLayer(dim, cfg["hidden_dim"], make_attention()) for _ in range(cfg["n_layers"]))
        )
        self.Token_Prediction = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim, eps=1e-12))
        self.LN = nn.LayerNorm(dim, eps=1e-12)
        self.drop = nn.Dropout(0.1)
        self.bias = nn.Parameter(torch.randn(n, codes + 1) * 0.02)

    def forward(self, x):
        h = self.drop(self.LN(self.tok_emb(x) + self.pos_emb))
        h = self.Token_Prediction(self.blocks(h))
        return h @ self.tok_emb.weight.T + self.bias


def randomize(module: nn.Module, seed: int) -> nn.Module:
    """PyTorch's default random init, with norm scales and all biases moved off 1 and 0 (a trained
    checkpoint's are not), in eval mode."""
    torch.manual_seed(seed)
    for m in module.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    with torch.no_grad():
        for _name, p in module.named_parameters():
            if p.dim() == 1:
                p.add_(torch.randn(p.shape) * 0.1)
    return module.eval()
