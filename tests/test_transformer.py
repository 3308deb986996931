import pytest
import torch

from maskgit import BidirectionalTransformer, InputError, TransformerConfig, decode_tokens
from maskgit.transformer import TRANSFORMER_PRESETS, MultiHeadAttention


@pytest.mark.parametrize("name", list(TRANSFORMER_PRESETS))
def test_every_preset_predicts_every_position(name):
    config = TransformerConfig.preset(name)
    big = name in ("lab", "base")
    device = torch.device("meta") if big else torch.device("cpu")
    with device:
        model = BidirectionalTransformer(config)
        tokens = torch.zeros(2, config.num_tokens, dtype=torch.int64)
    tokens[:, ::2] = config.mask_token_id
    logits = model(tokens)
    assert logits.shape == (2, config.num_tokens, config.output_classes)


def test_lab_preset_is_the_seeds_transformer():
    config = TransformerConfig.preset("lab")
    assert (config.dim, config.depth, config.heads, config.mlp_hidden) == (768, 15, 16, 1536)
    assert config.norm == "post" and config.layer_norm_eps == 1e-12 and config.dropout == 0.1
    assert config.output_classes == 1025 and config.mask_token_id == 1024


def test_fused_attention_matches_the_explicit_math():
    torch.manual_seed(0)
    attention = MultiHeadAttention(dim=64, heads=8).eval()
    x = torch.randn(19, 17, 64)  # more images than one chunk of the explicit math (ATTENTION_CHUNK)
    fused = attention(x)
    attention.fused = False
    explicit = attention(x)
    assert (fused - explicit).abs().max().item() <= 1e-5


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_whole_model_gives_the_same_logits_on_either_attention_path(norm):
    config = TransformerConfig.preset("tiny")
    model = BidirectionalTransformer(TransformerConfig(**{**config.__dict__, "norm": norm})).eval()
    tokens = torch.randint(0, config.codebook_size + 1, (4, config.num_tokens))
    fused = model(tokens)
    model.set_fused_attention(False)
    assert (fused - model(tokens)).abs().max().item() <= 1e-5


def test_attention_is_bidirectional():
    model = BidirectionalTransformer(TransformerConfig.preset("tiny")).eval()
    tokens = torch.zeros(1, 16, dtype=torch.int64)
    changed = tokens.clone()
    changed[0, -1] = 5  # the last token changes the prediction at the first position
    assert not torch.allclose(model(tokens)[0, 0], model(changed)[0, 0])


def test_class_conditioning_has_a_null_class_and_changes_the_prediction():
    config = TransformerConfig(**{**TransformerConfig.preset("tiny").__dict__, "num_classes": 3})
    model = BidirectionalTransformer(config).eval()
    tokens = torch.full((2, 16), config.mask_token_id)
    assert config.null_class_id == 3
    unconditional = model(tokens)
    assert torch.equal(unconditional, model(tokens, torch.tensor([3, 3])))  # None means the null class
    assert not torch.allclose(unconditional, model(tokens, torch.tensor([0, 1])))


def test_bad_tokens_are_input_errors():
    model = BidirectionalTransformer(TransformerConfig.preset("tiny"))
    with pytest.raises(InputError, match=r"\(B, 16\)"):
        model(torch.zeros(1, 15, dtype=torch.int64))
    with pytest.raises(InputError, match=r"\[0, 32\]"):
        model.check_values(torch.full((1, 16), 33))  # values are checked where data enters, not every forward
    with pytest.raises(InputError, match=r"\[0, 32\]"):  # where they enter: decoding
        decode_tokens(model, torch.full((1, 16), 40), torch.zeros(1, 16, dtype=torch.bool))
    with pytest.raises(InputError, match="without classes"):
        model(torch.zeros(1, 16, dtype=torch.int64), torch.tensor([0]))


def test_under_bf16_autocast_on_a_cpu_attention_takes_the_explicit_math_path():
    from maskgit.transformer.attention import MultiHeadAttention

    torch.manual_seed(0)
    attention = MultiHeadAttention(32, 4).eval()
    x = torch.randn(2, 16, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fused = attention(x)
        attention.fused = False
        explicit = attention(x)
    assert torch.equal(fused, explicit)  # the same path, measured faster there (docs/benchmarks.md)
    attention.fused = True
    torch.testing.assert_close(attention(x), fused.float(), atol=0.05, rtol=0.05)  # fp32: the fused kernel, close


@pytest.mark.parametrize("num_classes", [0, 3])
def test_predicting_only_some_positions_gives_exactly_those_rows_of_the_full_prediction(num_classes):
    config = TransformerConfig(**{**TransformerConfig.preset("tiny").__dict__, "num_classes": num_classes})
    model = BidirectionalTransformer(config).eval()
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, config.mask_token_id + 1, (3, config.num_tokens), generator=g)
    at = torch.rand(3, config.num_tokens, generator=g) < 0.4
    classes = torch.tensor([0, 1, 3]) if num_classes else None
    with torch.no_grad():
        rows = model(tokens, classes, at)
        assert rows.shape == (int(at.sum()), config.output_classes)
        torch.testing.assert_close(rows, model(tokens, classes)[at], rtol=0, atol=1e-6)


def test_state_dicts_with_separate_q_k_v_projections_load_into_the_fused_one():
    """Models saved before checkpoint format 2 stored q_proj, k_proj, v_proj; their rows stack into qkv_proj."""
    torch.manual_seed(0)
    model = BidirectionalTransformer(TransformerConfig.preset("tiny")).eval()
    tokens = torch.randint(0, 33, (2, 16))
    old = {}
    for key, value in model.state_dict().items():
        if ".qkv_proj." in key:
            for name, part in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3), strict=True):
                old[key.replace("qkv_proj", name)] = part.clone()
        else:
            old[key] = value
    fresh = BidirectionalTransformer(TransformerConfig.preset("tiny")).eval()
    fresh.load_state_dict(old)
    assert torch.equal(fresh(tokens), model(tokens))


def test_only_a_pre_ln_transformer_grows_and_only_from_its_own_kind():
    tiny = TRANSFORMER_PRESETS["tiny"]()
    deeper = BidirectionalTransformer(TransformerConfig(**{**tiny.__dict__, "depth": tiny.depth + 1}))
    deeper.start_from(BidirectionalTransformer(tiny))  # pre-LN: the new block on top starts as the identity
    post = TransformerConfig(**{**tiny.__dict__, "norm": "post"})
    with pytest.raises(InputError, match="pre-LN"):
        BidirectionalTransformer(TransformerConfig(**{**post.__dict__, "depth": tiny.depth + 1})).start_from(
            BidirectionalTransformer(post)
        )
    with pytest.raises(InputError, match="other weights"):  # a wider one cannot be copied in
        deeper.start_from(BidirectionalTransformer(TransformerConfig(**{**tiny.__dict__, "num_classes": 3})))
