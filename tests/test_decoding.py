import math

import pytest
import torch

from maskgit import ConfigError, DecodeConfig, InputError, MaskGIT, decode_tokens, gamma, per_image_generators
from maskgit.decoding import KNOWN_CONFIDENCE, guided_logits, pixel_mask_to_token_mask
from maskgit.decoding.fill import FILLS, fill_missing
from tests.conftest import untouched

MASK_ID = 32  # tiny preset: 32 codes, so the mask token id is 32


def random_problem(batch=4, seed=0):
    """Token ids and token masks with a different number of unknown tokens per image (0 included)."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 32, (batch, 16), generator=g)
    token_mask = torch.zeros(batch, 16, dtype=torch.bool)
    for b, count in enumerate([16, 9, 1, 0, 5, 12][:batch]):
        token_mask[b, torch.randperm(16, generator=g)[:count]] = True
    return tokens, token_mask


@pytest.mark.parametrize("rule", ["noisy-probs", "sampled", "greedy"])
def test_known_tokens_keep_their_ids_and_no_mask_id_is_produced(tiny_model, rule):
    tokens, token_mask = random_problem()
    result = decode_tokens(tiny_model.transformer, tokens, token_mask, DecodeConfig(total_steps=5, confidence=rule))
    assert torch.equal(result.tokens[~token_mask], tokens[~token_mask])
    assert int(result.tokens.max()) < MASK_ID and int(result.tokens.min()) >= 0
    assert not result.token_mask.any()


def test_greedy_decoding_fixes_each_token_at_the_most_likely_code(tiny_model):
    tokens, token_mask = torch.zeros(2, 16, dtype=torch.int64), torch.ones(2, 16, dtype=torch.bool)
    config = DecodeConfig(total_steps=3, confidence="greedy")
    step = decode_tokens(tiny_model.transformer, tokens, token_mask, config, return_trace=True).trace[0]
    with torch.no_grad():
        logits = tiny_model.transformer(tokens.masked_fill(token_mask, MASK_ID))[..., :MASK_ID]
    assert torch.equal(step.predicted, logits.argmax(dim=-1))


def test_the_cosine_schedule_over_four_steps_on_sixteen_unknown_tokens():
    # floor(16 * cos(pi/2 * t/4)) for t = 1, 2, 3, then 0: 14, 11, 6, 0 tokens stay masked
    model = MaskGIT.from_preset("tiny").eval()
    tokens, token_mask = torch.zeros(1, 16, dtype=torch.int64), torch.ones(1, 16, dtype=torch.bool)
    config = DecodeConfig(total_steps=4, schedule="cosine")
    result = decode_tokens(model.transformer, tokens, token_mask, config, return_trace=True)
    assert [int(step.token_mask.sum()) for step in result.trace] == [14, 11, 6, 0]


@pytest.mark.parametrize("schedule", ["cosine", "linear", "square", "cubic", "sqrt", "log", "exp"])
@pytest.mark.parametrize("total_steps", [1, 3, 8, 20])
def test_masked_count_after_each_step_follows_the_schedule(tiny_model, schedule, total_steps):
    tokens, token_mask = random_problem(batch=6)
    config = DecodeConfig(total_steps=total_steps, schedule=schedule)
    result = decode_tokens(tiny_model.transformer, tokens, token_mask, config, return_trace=True)
    initial = token_mask.sum(1).tolist()
    before = list(initial)
    assert len(result.trace) == total_steps
    for t, step in enumerate(result.trace):
        for b, n0 in enumerate(initial):
            scheduled = math.floor(gamma(schedule, (t + 1) / total_steps) * n0) if t < total_steps - 1 else 0
            expected = max(0, min(scheduled, before[b] - 1))  # at least one unmasked per step while any remain
            assert int(step.token_mask[b].sum()) == expected, (t, b)
            before[b] = expected
        # still-masked tokens were masked before this step: known and decoded tokens are never re-masked
        assert not (step.token_mask & ~token_mask).any()
        assert (
            torch.isinf(step.confidence[~token_mask]).all() and step.confidence[~token_mask].min() == KNOWN_CONFIDENCE
        )


def test_the_tokens_kept_masked_are_the_least_confident(tiny_model):
    tokens, token_mask = random_problem(batch=1)
    result = decode_tokens(tiny_model.transformer, tokens, token_mask, DecodeConfig(total_steps=4), return_trace=True)
    step = result.trace[0]
    kept = step.confidence[step.token_mask]
    unmasked_now = step.confidence[token_mask & ~step.token_mask]
    assert kept.max() <= unmasked_now.min()


@pytest.mark.parametrize("rule", ["noisy-probs", "sampled", "greedy"])
def test_a_batch_decodes_exactly_as_its_images_one_at_a_time(tiny_model, rule):
    tokens, token_mask = random_problem(batch=5)
    config = DecodeConfig(total_steps=6, schedule="linear", confidence=rule)
    seeds = [11, 12, 13, 14, 15]
    batch = decode_tokens(tiny_model.transformer, tokens, token_mask, config, generator=per_image_generators(seeds))
    for b, seed in enumerate(seeds):
        single = decode_tokens(
            tiny_model.transformer,
            tokens[b : b + 1],
            token_mask[b : b + 1],
            config,
            generator=per_image_generators([seed]),
        )
        assert torch.equal(single.tokens[0], batch.tokens[b]), b


def test_same_generator_seed_gives_the_same_result_and_another_seed_differs(tiny_model):
    tokens, token_mask = torch.zeros(2, 16, dtype=torch.int64), torch.ones(2, 16, dtype=torch.bool)
    config = DecodeConfig(total_steps=4)

    def run(seed):
        generator = torch.Generator().manual_seed(seed)
        return decode_tokens(tiny_model.transformer, tokens, token_mask, config, generator=generator).tokens

    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))


def test_sweet_spot_stops_early_and_returns_the_last_prediction_where_still_masked(tiny_model):
    tokens, token_mask = torch.zeros(1, 16, dtype=torch.int64), torch.ones(1, 16, dtype=torch.bool)
    config = DecodeConfig(total_steps=8, sweet_spot=2, schedule="linear")
    result = decode_tokens(tiny_model.transformer, tokens, token_mask, config, return_trace=True)
    assert len(result.trace) == 2
    assert int(result.token_mask.sum()) == math.floor((1 - 2 / 8) * 16)  # 12 still masked
    assert torch.equal(result.token_mask, result.trace[-1].token_mask)
    assert torch.equal(result.tokens, result.trace[-1].predicted)  # every position holds a real code id
    assert int(result.tokens.max()) < MASK_ID


def test_sweet_spot_equal_to_total_steps_decodes_everything(tiny_model):
    tokens, token_mask = random_problem()
    config = DecodeConfig(total_steps=5, sweet_spot=5)
    assert not decode_tokens(tiny_model.transformer, tokens, token_mask, config).token_mask.any()


def test_decode_options_are_validated():
    with pytest.raises(ConfigError, match="sweet_spot"):
        DecodeConfig(total_steps=8, sweet_spot=9)
    with pytest.raises(ConfigError, match="unknown mask schedule"):
        DecodeConfig(schedule="zigzag")
    with pytest.raises(ConfigError, match="total_steps"):
        DecodeConfig(total_steps=0)
    with pytest.raises(ConfigError, match="'seed' is now called 'noisy-probs'"):
        DecodeConfig(confidence="seed")


def test_a_token_is_unknown_if_any_pixel_of_its_patch_is_missing():
    pixel_mask = torch.zeros(1, 16, 16, dtype=torch.bool)
    pixel_mask[0, 0, 0] = True  # one pixel in patch (0, 0)
    pixel_mask[0, 8:12, 12:16] = True  # a whole patch (2, 3)
    token_mask = pixel_mask_to_token_mask(pixel_mask, grid_size=4)
    assert token_mask.shape == (1, 16)
    assert token_mask[0].nonzero().flatten().tolist() == [0, 2 * 4 + 3]
    # with a coverage threshold, the single pixel (1/16 of its patch) no longer counts
    assert pixel_mask_to_token_mask(pixel_mask, 4, coverage_threshold=0.5)[0].nonzero().flatten().tolist() == [11]


@pytest.mark.parametrize("fill", FILLS)
def test_the_fill_keeps_known_pixels_and_never_reads_the_missing_ones(images, fill):
    mask = torch.zeros(4, 16, 16, dtype=torch.bool)
    mask[:, 3:9, 5:14] = True
    filled = fill_missing(images, mask, fill)
    torch.testing.assert_close(filled.masked_fill(mask[:, None], 0), images.masked_fill(mask[:, None], 0))
    torch.testing.assert_close(fill_missing(images.masked_fill(mask[:, None], -0.9), mask, fill), filled)


def test_classical_fills_continue_the_known_colour_and_grey_is_mid_grey():
    red = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1).expand(2, 3, 16, 16).contiguous()  # (2, 3, 16, 16)
    mask = torch.zeros(2, 16, 16, dtype=torch.bool)
    mask[:, 4:12, 4:12] = True
    for fill in ("telea", "navier-stokes"):
        torch.testing.assert_close(fill_missing(red, mask, fill), red)  # a hole in flat red is filled with red
    grey = fill_missing(red, mask, "grey")
    assert (grey[:, :, 4:12, 4:12] == 0).all() and torch.equal(grey[:, :, :4], red[:, :, :4])
    with pytest.raises(InputError, match="telea, navier-stokes, grey"):
        fill_missing(red, mask, "blur")


def test_inpaint_keeps_known_pixels_and_reports_the_masks(tiny_model, images):
    pixel_mask = torch.zeros(4, 16, 16, dtype=torch.bool)
    pixel_mask[:, 2:9, 3:11] = True
    pixel_mask[3] = False  # an image with nothing to fill
    result = tiny_model.inpaint(images, pixel_mask, DecodeConfig(total_steps=4), return_trace=True)
    assert result.images.shape == images.shape
    far = torch.from_numpy(untouched(pixel_mask.numpy()))[:, None].expand_as(images)
    assert torch.equal(result.images[far], images[far])  # composited: known pixels beyond the blend are the input's
    pasted = tiny_model.inpaint(images, pixel_mask, DecodeConfig(total_steps=4, blend=0.0))
    keep = ~pixel_mask[:, None].expand_as(images)
    assert torch.equal(pasted.images[keep], images[keep])  # blend 0: every known pixel is the input's
    missing = ~keep
    assert torch.equal(result.images[missing], result.reconstruction[missing])
    assert result.token_mask.shape == (4, 4, 4) and result.token_mask[3].sum() == 0
    assert result.token_mask[0].sum() == 9  # rows 2-8 touch token rows 0-2, cols 3-10 touch token cols 0-2
    assert not result.remaining_mask.any() and len(result.trace) == 4
    assert result.reconstruction.min() >= -1 and result.reconstruction.max() <= 1
    raw = tiny_model.inpaint(images, pixel_mask, DecodeConfig(total_steps=4), composite_known=False)
    assert torch.equal(raw.images, raw.reconstruction)


def test_inpaint_tokenizes_once_not_at_every_step(tiny_model, images, monkeypatch):
    calls = []
    encode = tiny_model.tokenizer.encode
    monkeypatch.setattr(tiny_model.tokenizer, "encode", lambda x: calls.append(1) or encode(x))
    tiny_model.inpaint(images, torch.ones(4, 16, 16, dtype=torch.bool), DecodeConfig(total_steps=6))
    assert len(calls) == 1


def test_a_mask_that_does_not_match_its_images_is_an_input_error(tiny_model, images):
    with pytest.raises(InputError, match="does not match images"):
        tiny_model.inpaint(images, torch.zeros(4, 8, 8, dtype=torch.bool))
    with pytest.raises(InputError, match="one per image"):
        decode_tokens(tiny_model.transformer, *random_problem(batch=2), generator=per_image_generators([1, 2, 3]))


def test_bf16_autocast_decoding_gives_valid_tokens(tiny_model, images):
    pixel_mask = torch.ones(4, 16, 16, dtype=torch.bool)
    result = tiny_model.inpaint(images, pixel_mask, DecodeConfig(total_steps=3), precision="bf16")
    assert result.tokens.dtype == torch.int64 and int(result.tokens.max()) < MASK_ID


class ClassFavouringTransformer(torch.nn.Module):
    """A stand-in transformer whose logits favour code 7 * class_id + 3 everywhere (none for the null class)."""

    def __init__(self):
        super().__init__()
        from maskgit import TransformerConfig

        self.config = TransformerConfig(**{**TransformerConfig.preset("tiny").__dict__, "num_classes": 2})
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # gives the module a device

    from maskgit import BidirectionalTransformer

    check_inputs = BidirectionalTransformer.check_inputs  # the real model's input checks
    check_values = BidirectionalTransformer.check_values

    def forward(self, tokens, class_ids=None, at=None, hint=None):
        logits = torch.zeros(tokens.shape[0], 16, 32)
        if class_ids is not None:
            for b, c in enumerate(class_ids.tolist()):
                if c != self.config.null_class_id:
                    logits[b, :, 7 * c + 3] = 10.0
        return logits if at is None else logits[at]


def test_guidance_mixes_conditional_and_unconditional_logits():
    model = ClassFavouringTransformer()
    inputs = torch.full((2, 16), MASK_ID)
    classes = torch.tensor([0, 1])
    conditional, unconditional = model(inputs, classes), model(inputs)
    assert torch.equal(guided_logits(model, inputs, classes, 1.0), conditional)
    assert torch.equal(guided_logits(model, inputs, classes, 3.0), unconditional + 3.0 * (conditional - unconditional))


def test_generate_samples_whole_images_of_the_asked_class():
    from maskgit import VQGAN, TokenizerConfig

    model = MaskGIT(VQGAN(TokenizerConfig.preset("tiny")), ClassFavouringTransformer()).eval()
    config = DecodeConfig(total_steps=4, confidence="sampled", choice_temperature=0.0, cfg_scale=2.0)
    out = model.generate(2, config, class_ids=torch.tensor([0, 1]), generator=torch.Generator().manual_seed(0))
    assert out.images.shape == (2, 3, 16, 16) and out.tokens.shape == (2, 4, 4)
    assert out.images.min() >= -1 and out.images.max() <= 1
    assert (out.tokens[0] == 3).all() and (out.tokens[1] == 10).all()
    unconditional = model.generate(2, config, generator=torch.Generator().manual_seed(0))
    assert len(unconditional.tokens.unique()) > 2  # no class, no favourite: the samples spread out


def test_a_tokenizer_and_transformer_that_do_not_fit_are_refused():
    from maskgit import TokenizerConfig, TransformerConfig

    with pytest.raises(ConfigError, match="do not fit"):
        MaskGIT.from_configs(TokenizerConfig.preset("tiny"), TransformerConfig.preset("grey32"))


def test_micro_batching_does_not_change_the_result(tiny_model, images):
    pixel_mask = torch.zeros(4, 16, 16, dtype=torch.bool)
    pixel_mask[:, 5:, :7] = True
    config = DecodeConfig(total_steps=5)

    def run(micro_batch):
        generators = per_image_generators([3, 4, 5, 6])
        return tiny_model.inpaint(images, pixel_mask, config, generator=generators, micro_batch=micro_batch)

    whole, ones, threes = run(100), run(1), run(3)
    assert torch.equal(whole.tokens, ones.tokens) and torch.equal(whole.tokens, threes.tokens)
    assert torch.allclose(whole.images, ones.images, atol=1e-5)


def test_one_decoding_step_fixes_the_most_confident_argmax_choices_and_remasks_the_rest():
    from maskgit.decoding.parallel_decode import decoding_step

    # one image, 4 tokens, 3 codes; token 0 is known (id 2), tokens 1-3 are masked: their logits
    logits = torch.tensor([[5.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 9.0]])
    predicted = torch.tensor([[2, 0, 0, 0]])
    token_mask = torch.tensor([[False, True, True, True]])
    config = DecodeConfig(total_steps=2, schedule="linear", confidence="greedy", choice_temperature=0.0)
    step = decoding_step(logits, predicted, token_mask, token_mask.sum(dim=1), step=0, config=config, generator=None)
    assert step.predicted.tolist() == [[2, 0, 1, 2]]  # known id kept, argmax everywhere else
    assert step.confidence[0, 0] == float("inf")
    # linear gamma(1/2) * 3 = 1.5 -> 1 token stays masked: the least confident (token 2, p = e / (e + 2))
    assert step.token_mask.tolist() == [[False, False, True, False]]


def test_the_sampled_rule_draws_from_the_softmax_at_its_sample_temperature():
    from maskgit.decoding.parallel_decode import choose_tokens

    # 4,000 positions with the same logits: p = softmax([2, 1, 0]) = (0.665, 0.245, 0.090)
    logits = torch.tensor([2.0, 1.0, 0.0]).expand(4000, 3).contiguous()
    rows = torch.tensor([4000])

    def shares(sample_temperature: float) -> torch.Tensor:
        generator = torch.Generator().manual_seed(0)
        chosen, confidence = choose_tokens(logits, 0.0, "sampled", rows, generator, sample_temperature)
        # the confidence stays the model's own log p(chosen), whatever the draw's temperature
        assert torch.allclose(confidence, torch.log_softmax(logits, -1).gather(1, chosen[:, None]).squeeze(1))
        return torch.bincount(chosen, minlength=3) / 4000.0

    assert torch.allclose(shares(1.0), torch.softmax(logits[0], 0), atol=0.02)
    assert torch.allclose(shares(0.5), torch.softmax(logits[0] / 0.5, 0), atol=0.02)  # (0.867, 0.117, 0.016)
    assert shares(0.01).tolist() == [1.0, 0.0, 0.0]  # a cold draw is the argmax


def test_mask_lowest_marks_exactly_the_k_lowest_scores_of_each_row():
    from maskgit.masking.mvtm import mask_lowest

    scores = torch.tensor([[0.3, 0.1, 0.9, 0.5], [4.0, 3.0, 2.0, 1.0]])
    assert mask_lowest(scores, torch.tensor([2, 0])).tolist() == [[True, True, False, False], [False] * 4]
    assert mask_lowest(scores, torch.tensor([1, 3])).tolist() == [
        [False, True, False, False],
        [False, True, True, True],
    ]


# Tokens the decoder gave before the speed work of issue 12 (fused QKV, output head at masked positions only,
# in-place noise, one autocast context): any change to what decoding computes shows up here.
DECODED_BEFORE_ISSUE_12 = {
    "greedy": [
        [2, 11, 12, 8, 10, 23, 11, 5, 15, 0, 16, 1, 12, 7, 31, 28],
        [2, 27, 1, 25, 30, 23, 25, 20, 10, 28, 10, 10, 29, 14, 31, 22],
        [2, 27, 1, 25, 23, 23, 13, 8, 10, 4, 9, 10, 4, 13, 31, 22],
        [2, 27, 1, 25, 10, 23, 13, 8, 10, 4, 22, 10, 4, 13, 31, 10],
    ],
    "sampled": [
        [2, 11, 12, 8, 7, 28, 11, 5, 15, 0, 16, 1, 12, 7, 1, 28],
        [13, 30, 26, 14, 30, 25, 20, 20, 11, 28, 10, 1, 29, 14, 22, 7],
        [1, 27, 15, 30, 23, 31, 8, 30, 15, 15, 9, 8, 4, 20, 11, 9],
        [9, 28, 15, 5, 25, 18, 27, 4, 8, 7, 19, 1, 4, 19, 22, 28],
    ],
    "noisy-probs": [
        [9, 11, 12, 8, 19, 8, 11, 5, 15, 0, 16, 1, 12, 7, 29, 28],
        [4, 17, 10, 20, 30, 4, 14, 20, 20, 28, 10, 16, 29, 14, 6, 3],
        [28, 17, 6, 12, 23, 1, 26, 28, 18, 16, 9, 6, 30, 20, 8, 7],
        [9, 9, 20, 3, 26, 16, 28, 16, 18, 2, 0, 26, 16, 5, 31, 13],
    ],
}


@pytest.mark.parametrize("rule", list(DECODED_BEFORE_ISSUE_12))
def test_decoding_gives_the_same_tokens_as_before_it_was_made_faster(rule):
    from maskgit import BidirectionalTransformer, TransformerConfig, per_image_generators

    torch.manual_seed(0)
    model = BidirectionalTransformer(TransformerConfig.preset("tiny")).eval()
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 32, (4, 16), generator=g)
    mask = torch.rand(4, 16, generator=g) < torch.tensor([[0.3], [0.6], [0.9], [1.0]])
    config = DecodeConfig(total_steps=4, confidence=rule, choice_temperature=2.0)
    result = decode_tokens(model, tokens, mask, config, generator=per_image_generators(range(4)))
    assert result.tokens.tolist() == DECODED_BEFORE_ISSUE_12[rule]


def test_halton_order_fixes_tokens_in_a_fixed_spread_out_order(tiny_model):
    from maskgit.decoding.halton import halton_rank

    rank = torch.tensor(halton_rank(4))
    assert sorted(rank.tolist()) == list(range(16))  # every position once
    first_four = (rank < 4).view(4, 4)
    assert first_four.any(dim=0).sum() >= 3 and first_four.any(dim=1).sum() >= 3  # spread over rows and columns
    tokens, token_mask = torch.zeros(2, 16, dtype=torch.int64), torch.ones(2, 16, dtype=torch.bool)
    token_mask[1, :8] = False  # the second image knows its first half
    config = DecodeConfig(total_steps=4, schedule="linear", order="halton", confidence="sampled")
    trace = decode_tokens(tiny_model.transformer, tokens, token_mask, config, return_trace=True).trace
    for b in range(2):
        unknown = token_mask[b].nonzero().squeeze(1)
        fixed = unknown[~trace[0].token_mask[b, unknown]]  # what the first step fixed
        still = unknown[trace[0].token_mask[b, unknown]]
        assert rank[fixed].max() < rank[still].min()  # the earliest in the Halton order, whatever the logits
    with pytest.raises(ConfigError, match="order must be one of"):
        DecodeConfig(order="raster")


def test_a_linear_guidance_schedule_rises_from_one_to_the_scale_at_the_last_step():
    from maskgit.decoding.parallel_decode import guidance_at

    rising = DecodeConfig(total_steps=5, cfg_scale=3.0, cfg_schedule="linear")
    assert [guidance_at(rising, t) for t in range(5)] == [1.0, 1.5, 2.0, 2.5, 3.0]
    assert {guidance_at(DecodeConfig(total_steps=5, cfg_scale=3.0), t) for t in range(5)} == {3.0}
    model = ClassFavouringTransformer()
    tokens, token_mask = torch.zeros(2, 16, dtype=torch.int64), torch.ones(2, 16, dtype=torch.bool)
    classes = torch.tensor([0, 1])
    for schedule in ("constant", "linear"):
        config = DecodeConfig(total_steps=4, confidence="sampled", cfg_scale=2.0, cfg_schedule=schedule)
        out = decode_tokens(model, tokens, token_mask, config, class_ids=classes, generator=torch.Generator())
        assert (out.tokens[0] == 3).all() and (out.tokens[1] == 10).all()
    with pytest.raises(ConfigError, match="cfg_schedule must be one of"):
        DecodeConfig(cfg_schedule="cosine")


def test_decoding_guides_each_step_with_its_scheduled_scale(monkeypatch):
    import maskgit.decoding.parallel_decode as decoding

    scales, original = [], decoding.guided_logits
    monkeypatch.setattr(
        decoding, "guided_logits", lambda m, i, c, scale, *a: scales.append(scale) or original(m, i, c, scale, *a)
    )
    tokens, token_mask = torch.zeros(1, 16, dtype=torch.int64), torch.ones(1, 16, dtype=torch.bool)
    config = DecodeConfig(total_steps=3, cfg_scale=5.0, cfg_schedule="linear")
    decode_tokens(ClassFavouringTransformer(), tokens, token_mask, config, class_ids=torch.tensor([1]))
    assert scales == [1.0, 3.0, 5.0]
