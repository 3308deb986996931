"""Import the lab's checkpoints: its VQGAN (`models/VQGAN`, a bare state dict + VQGAN.yml) and a transformer
saved by its training script (`models/Transformer`, + MaskGit.yml), into one maskgit checkpoint.

The lab's modules, as read from its public template (README: Importing the lab's models), match the `lab`
presets once renamed:

    VQGAN                                         maskgit
    encoder.model.N / decoder.model.N             tokenizer.encoder.layers.N / decoder.layers.N (same order)
      ResidualBlock block.0.gn, block.2,          norm1, conv1,
                    block.3.gn, block.5,          norm2, conv2,
                    channel_up                    skip
      NonLocalBlock norm.gn, q + k + v, proj_out  norm, qkv (q, k, v stacked), proj
      GroupNorm wrapper N.gn                      N
    codebook.embedding                            quantizer.codebook
    transformer tok_emb, pos_emb (N, D), bias     token_embedding, position_embedding (1, N, D), output_bias
      LN, Token_Prediction                        embed_norm, token_predictor
      blocks.i.LayerNorm1/2, MLP                  blocks.i.norm1/2, mlp
      blocks.i.Attention.<the student's names>    blocks.i.attention.{q,k,v,out}_proj (ATTENTION_NAMES)

Files are read with torch.load(weights_only=True): a pickle holding anything but tensors and plain
containers is refused, never executed.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor

from maskgit.checkpoint import load_state, save_checkpoint
from maskgit.config import replace_config
from maskgit.errors import CheckpointError, ConfigError
from maskgit.tokenizer.config import TokenizerConfig
from maskgit.tokenizer.vqgan import VQGAN
from maskgit.transformer.config import TransformerConfig
from maskgit.transformer.model import BidirectionalTransformer

LAB_HEADS = 16  # the template's MultiHeadAttention default; MaskGit.yml does not say
# Where a training script nests the state dict ({"model_state_dict": ..., "optimizer_state_dict": ...}).
STATE_KEYS = ("model", "state_dict", "model_state_dict", "transformer_state_dict", "transformer_parameter")
# The attention layer was each student's own: the names seen for (q, k, v, out), or (qkv, out) fused.
ATTENTION_NAMES: tuple[tuple[str, ...], ...] = (
    ("q_linear", "k_linear", "v_linear", "out_linear"),
    ("query", "key", "value", "output_layer"),
    ("query", "key", "value", "proj"),
    ("q_proj", "k_proj", "v_proj", "out_proj"),
    ("W_q", "W_k", "W_v", "W_o"),
    ("Wq", "Wk", "Wv", "out"),
    ("qkv", "proj"),
    ("to_qkv", "proj"),
    ("to_qkv", "to_out"),
    ("wqkv", "wo"),
)


# ---- reading files ---------------------------------------------------------------------------------
def read_torch_weights(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a torch.save file: a bare state dict, a training dict that nests one (STATE_KEYS), or
    a whole model's. Refuses anything that needs code to unpickle."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "unsupported content"
        raise CheckpointError(
            f"{path} holds more than tensors and plain containers ({first[:160]}): refused, nothing in it was run; "
            "in code you trust, load it and torch.save only its state_dict()"
        ) from error
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable torch.save file ({error}): copy it again") from error
    state = loaded
    if isinstance(state, Mapping):
        for key in STATE_KEYS:
            if isinstance(state.get(key), Mapping):
                state = state[key]
                break
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f"{path} holds no state dict (found {type(loaded).__name__})")
    tensors = {str(k).removeprefix("module."): v for k, v in state.items() if isinstance(v, Tensor)}
    if not tensors:
        raise CheckpointError(f"{path} holds no tensors under {', '.join(map(str, list(state)[:5]))}")
    return tensors


def only_model(tensors: dict[str, Tensor], part: str) -> dict[str, Tensor]:
    """From a whole-model state dict ("vqgan." and "transformer." prefixes) the part's tensors, unprefixed;
    any other dict as it is."""
    prefix = f"{part}."
    if any(k.startswith(prefix) for k in tensors):
        return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    return tensors


def read_yaml_params(path: str | Path, *sections: str) -> dict[str, Any]:
    """The lab YAML's `model_param` (then each of `sections` inside it) as a dict."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read {path} as YAML ({error})") from error
    node: Any = data
    for key in ("model_param", *sections):
        if not isinstance(node, Mapping) or key not in node:
            raise ConfigError(
                f"{path} has no {key!r} section: is it the lab's {'MaskGit' if sections else 'VQGAN'}.yml?"
            )
        node = node[key]
    return dict(node)


def _param(params: Mapping[str, Any], key: str, path: Path | str) -> Any:
    if key not in params:
        raise ConfigError(f"{path}: model_param has no {key!r}")
    return params[key]


# ---- configs ---------------------------------------------------------------------------------------
def tokenizer_config_from_lab(path: str | Path) -> TokenizerConfig:
    """The TokenizerConfig of the lab's VQGAN.yml. The template hard-codes what the YAML does not say: 2
    residual blocks per encoder stage and 3 per decoder stage, down-sampling after encoder stages 2 and 4,
    up-sampling after its decoder stages 4 and 2 (counted down), non-local blocks at the latent resolution."""
    p = read_yaml_params(path)
    enc = tuple(int(c) for c in _param(p, "enc_channels", path))
    dec = tuple(int(c) for c in reversed(_param(p, "dec_channels", path)))  # the template walks it backwards
    last = len(dec) - 1
    config = replace_config(
        TokenizerConfig.preset("lab"),
        image_channels=int(p.get("image_channels", 3)),
        resolution=int(_param(p, "img_resolution", path)),
        latent_dim=int(_param(p, "latent_dim", path)),
        codebook_size=int(_param(p, "num_codebook_vectors", path)),
        beta=float(p.get("beta", 0.25)),
        encoder_channels=enc,
        downsample_after=tuple(i for i in (2, 4) if i < len(enc) - 1),
        decoder_channels=dec,
        upsample_after=tuple(sorted(last - i for i in (4, 2) if i <= last)),
        attn_resolutions=(int(_param(p, "latent_resolution", path)),),
    )
    if config.grid_size != int(p["latent_resolution"]):
        raise ConfigError(
            f"{path}: latent_resolution {p['latent_resolution']} is not what the layers give ({config.grid_size})"
        )
    return config


def transformer_config_from_lab(path: str | Path, heads: int = LAB_HEADS) -> TransformerConfig:
    """The TransformerConfig of the lab's MaskGit.yml (model_param.Transformer_param)."""
    p = read_yaml_params(path, "Transformer_param")
    return replace_config(
        TransformerConfig.preset("lab"),
        codebook_size=int(_param(p, "num_codebook_vectors", path)),
        num_tokens=int(_param(p, "num_image_tokens", path)),
        dim=int(_param(p, "dim", path)),
        depth=int(_param(p, "n_layers", path)),
        mlp_hidden=int(_param(p, "hidden_dim", path)),
        heads=heads,
    )


# ---- renaming --------------------------------------------------------------------------------------
VQGAN_RENAMES = (  # (pattern, replacement) on the lab's names, first match wins
    (r"^(encoder|decoder)\.model\.(\d+)\.block\.0\.gn\.", r"\1.layers.\2.norm1."),
    (r"^(encoder|decoder)\.model\.(\d+)\.block\.2\.", r"\1.layers.\2.conv1."),
    (r"^(encoder|decoder)\.model\.(\d+)\.block\.3\.gn\.", r"\1.layers.\2.norm2."),
    (r"^(encoder|decoder)\.model\.(\d+)\.block\.5\.", r"\1.layers.\2.conv2."),
    (r"^(encoder|decoder)\.model\.(\d+)\.channel_up\.", r"\1.layers.\2.skip."),
    (r"^(encoder|decoder)\.model\.(\d+)\.(?:norm|gn)\.gn\.", r"\1.layers.\2.norm."),
    (r"^(encoder|decoder)\.model\.(\d+)\.proj_out\.", r"\1.layers.\2.proj."),
    (r"^(encoder|decoder)\.model\.(\d+)\.gn\.", r"\1.layers.\2."),
    (r"^(encoder|decoder)\.model\.", r"\1.layers."),
    (r"^codebook\.embedding\.", "quantizer.codebook."),
)
NON_LOCAL_QKV = re.compile(r"^(encoder|decoder)\.model\.(\d+)\.([qkv])\.(weight|bias)$")


def renamed(
    state: Mapping[str, Tensor], renames: tuple[tuple[str, str], ...], set_aside: re.Pattern[str]
) -> tuple[dict[str, Tensor], list[tuple[re.Match[str], Tensor]]]:
    """`state` under new names (the first rule that matches a key renames it), except the keys that match
    `set_aside`, returned with their matches for the caller to combine."""
    out: dict[str, Tensor] = {}
    aside = []
    for key, value in state.items():
        found = set_aside.match(key)
        if found:
            aside.append((found, value))
            continue
        for pattern, replacement in renames:
            new, n = re.subn(pattern, replacement, key)
            if n:
                key = new
                break
        out[key] = value
    return out, aside


def tokenizer_state(lab: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The lab VQGAN's state dict under maskgit's names (non-local q, k, v convs stacked into one qkv)."""
    out, aside = renamed(lab, VQGAN_RENAMES, NON_LOCAL_QKV)
    stacked: dict[str, dict[str, Tensor]] = {}
    for found, value in aside:
        part, index, which, kind = found.groups()
        stacked.setdefault(f"{part}.layers.{index}.qkv.{kind}", {})[which] = value
    for key, parts in stacked.items():
        if set(parts) != {"q", "k", "v"}:
            raise CheckpointError(
                f"non-local block {key.rsplit('.', 2)[0]} lacks {', '.join(sorted({'q', 'k', 'v'} - set(parts)))}"
            )
        out[key] = torch.cat([parts["q"], parts["k"], parts["v"]])
    out.setdefault("quantizer.code_usage", torch.zeros(len(out.get("quantizer.codebook.weight", ()))))
    return out


TRANSFORMER_RENAMES = (
    (r"^tok_emb\.", "token_embedding."),
    (r"^pos_emb$", "position_embedding"),
    (r"^bias$", "output_bias"),
    (r"^LN\.", "embed_norm."),
    (r"^Token_Prediction\.", "token_predictor."),
    (r"^blocks\.(\d+)\.LayerNorm([12])\.", r"blocks.\1.norm\2."),
    (r"^blocks\.(\d+)\.MLP\.", r"blocks.\1.mlp."),
)
ATTENTION_KEY = re.compile(r"^blocks\.(\d+)\.Attention\.(.+)\.(weight|bias)$")


def transformer_state(lab: Mapping[str, Tensor], dim: int) -> dict[str, Tensor]:
    """The lab transformer's state dict under maskgit's names; attention layers without biases get zero
    biases (the same function)."""
    out, aside = renamed(lab, TRANSFORMER_RENAMES, ATTENTION_KEY)
    attention: dict[str, dict[str, Tensor]] = {}
    for found, value in aside:
        block, name, kind = found.groups()
        attention.setdefault(block, {})[f"{name}.{kind}"] = value
    if "position_embedding" in out and out["position_embedding"].dim() == 2:
        out["position_embedding"] = out["position_embedding"][None]  # (N, D) -> (1, N, D)
    for block, params in sorted(attention.items(), key=lambda kv: int(kv[0])):
        out.update(_attention_state(f"blocks.{block}.attention", params, dim))
    return out


def _attention_state(prefix: str, params: Mapping[str, Tensor], dim: int) -> dict[str, Tensor]:
    names = {k.rsplit(".", 1)[0] for k in params}
    for scheme in ATTENTION_NAMES:
        if set(scheme) == names:
            break
    else:
        known = "; ".join("/".join(s) for s in ATTENTION_NAMES)
        raise CheckpointError(
            f"{prefix}: attention layers named {', '.join(sorted(names))} are not a layout maskgit knows ({known})"
        )

    def linear(name: str) -> tuple[Tensor, Tensor]:
        weight = params[f"{name}.weight"]
        return weight, params.get(f"{name}.bias", torch.zeros(weight.shape[0], dtype=weight.dtype))

    if len(scheme) == 2:  # fused: rows are q, then k, then v, as in qkv_proj
        qkv_weight, qkv_bias = linear(scheme[0])
        if qkv_weight.shape[0] != 3 * dim:
            raise CheckpointError(
                f"{prefix}.{scheme[0]}: {tuple(qkv_weight.shape)} is not a fused (3 x {dim}, {dim}) projection"
            )
    else:
        weights, biases = zip(*(linear(name) for name in scheme[:3]), strict=True)
        qkv_weight, qkv_bias = torch.cat(weights), torch.cat(biases)
    out_weight, out_bias = linear(scheme[-1])
    return {
        f"{prefix}.qkv_proj.weight": qkv_weight,
        f"{prefix}.qkv_proj.bias": qkv_bias,
        f"{prefix}.out_proj.weight": out_weight,
        f"{prefix}.out_proj.bias": out_bias,
    }


# ---- the import ------------------------------------------------------------------------------------
def load_lab_tokenizer(checkpoint: str | Path, config_path: str | Path) -> VQGAN:
    config = tokenizer_config_from_lab(config_path)
    state = tokenizer_state(only_model(read_torch_weights(checkpoint), "vqgan"))
    model = VQGAN(config)
    load_state(model, state, f"{checkpoint} (VQGAN)")  # every name and shape checked (check_fit)
    return model.eval()


def load_lab_transformer(
    checkpoint: str | Path, config_path: str | Path, heads: int = LAB_HEADS
) -> BidirectionalTransformer:
    config = transformer_config_from_lab(config_path, heads)
    state = transformer_state(only_model(read_torch_weights(checkpoint), "transformer"), config.dim)
    model = BidirectionalTransformer(config)
    load_state(model, state, f"{checkpoint} (transformer)")
    return model.eval()


def import_lab(
    out: str | Path,
    *,
    vqgan: str | Path,
    vqgan_config: str | Path,
    transformer: str | Path | None = None,
    transformer_config: str | Path | None = None,
    heads: int = LAB_HEADS,
) -> tuple[VQGAN, BidirectionalTransformer | None]:
    """Write the lab's VQGAN (and transformer, when given) to one maskgit checkpoint at `out` (atomically)."""
    if (transformer is None) != (transformer_config is None):
        raise ConfigError("a transformer import needs both the checkpoint and its MaskGit.yml (--transformer-config)")
    tokenizer = load_lab_tokenizer(vqgan, vqgan_config)
    model = None
    if transformer is not None and transformer_config is not None:
        model = load_lab_transformer(transformer, transformer_config, heads)
        t, b = tokenizer.config, model.config
        if (t.codebook_size, t.num_tokens) != (b.codebook_size, b.num_tokens):
            raise ConfigError(
                f"the VQGAN ({t.codebook_size} codes, {t.num_tokens} tokens) and the transformer "
                f"({b.codebook_size} codes, {b.num_tokens} tokens) do not fit each other"
            )
    sources = {"vqgan": str(vqgan), "transformer": str(transformer) if transformer else None}
    save_checkpoint(out, tokenizer=tokenizer, transformer=model, extra={"imported_from_lab": sources})
    return tokenizer, model
