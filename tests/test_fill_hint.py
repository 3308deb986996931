"""The fill hint (issue 21): a transformer with `fill_hint` also reads, at masked positions, the token the tokenizer
saw in the filled hole and how deep in the hole it lies; models without it decode exactly as before."""

import json

import numpy as np
import pytest
import torch

from maskgit import MaskGIT
from maskgit.config import replace_config
from maskgit.data.images import to_tensor, to_uint8
from maskgit.decoding.config import DecodeConfig
from maskgit.decoding.parallel_decode import decode_tokens
from maskgit.decoding.token_mask import fill_depth
from maskgit.errors import InputError, TrainingError
from maskgit.experiments.inpainting import InpaintingSet
from maskgit.training.transformer_trainer import TransformerTrainer
from maskgit.transformer.config import FILL_DEPTHS
from maskgit.transformer.model import BidirectionalTransformer
from tests.conftest import stage2_config
from tests.pinned import PINNED, pinned_decode


def hinted(model: MaskGIT, seed: int = 0) -> MaskGIT:
    """The same model with a fill hint whose embeddings are random (as if trained), not zero."""
    transformer = BidirectionalTransformer(replace_config(model.transformer.config, fill_hint=True))
    transformer.load_state_dict(model.transformer.state_dict(), strict=False)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for embedding in (transformer.hint_embedding, transformer.depth_embedding):
            embedding.weight.copy_(torch.randn(embedding.weight.shape, generator=generator))
            embedding.weight[embedding.padding_idx].zero_()
    return MaskGIT(model.tokenizer, transformer).eval()


def test_depth_counts_tokens_from_the_nearest_known_pixel():
    mask = torch.zeros(1, 32, 32, dtype=torch.bool)  # an 8x8 token grid of 4x4 patches
    mask[0, 0:1, 0:1] = True  # one pixel of token (0, 0): partly missing
    mask[0, 8:32, 8:32] = True  # tokens (2..7, 2..7) wholly missing
    depth = fill_depth(mask, grid_size=8, levels=FILL_DEPTHS).view(8, 8)
    assert depth[0, 0] == 1 and depth[0, 1] == 0 and depth[1, 1] == 0
    assert depth[2, 2] == 2 and depth[2, 7] == 2  # next to a patch with known pixels
    assert depth[3, 3] == 3 and depth[4, 4] == 4 and depth[5, 5] == 5 and depth[7, 7] == 7
    everything = torch.ones(1, 32, 32, dtype=torch.bool)
    assert (fill_depth(everything, 8, FILL_DEPTHS) == FILL_DEPTHS - 1).all()  # deeper than the levels: the last
    assert fill_depth(mask, 8, levels=4).max() == 3
    with pytest.raises(InputError, match="at least 3 levels"):
        fill_depth(mask, 8, levels=2)


def test_a_new_hint_starts_as_no_hint_and_acts_only_at_masked_positions(tiny_model):
    plain = tiny_model.transformer
    model = BidirectionalTransformer(replace_config(plain.config, fill_hint=True)).eval()
    model.load_state_dict(plain.state_dict(), strict=False)
    tokens = torch.randint(0, 32, (3, 16), generator=torch.Generator().manual_seed(0))
    tokens[:, :6] = 32  # masked
    hint = torch.stack([torch.randint(0, 33, (3, 16)), torch.randint(0, FILL_DEPTHS, (3, 16))], dim=-1)
    with torch.no_grad():
        assert torch.equal(model(tokens, hint=hint), plain(tokens))  # zero-initialised: the same function
        trained = hinted(tiny_model).transformer
        with_hint, without = trained(tokens, hint=hint), trained(tokens)
        assert torch.equal(without, plain(tokens))
        assert not torch.allclose(with_hint, without)
        other = hint.clone()
        other[:, 6:] = 0  # change the hint only where tokens are known
        assert torch.equal(trained(tokens, hint=other), with_hint)
        none = torch.stack([torch.full((3, 16), 32), torch.zeros(3, 16, dtype=torch.long)], dim=-1)
        assert torch.equal(trained(tokens, hint=none), without)  # "no hint" rows are exactly no hint


def test_hint_inputs_are_checked(tiny_model):
    tokens = torch.full((2, 16), 32)
    hint = torch.zeros(2, 16, 2, dtype=torch.long)
    with pytest.raises(InputError, match="built without one"):
        tiny_model.transformer(tokens, hint=hint)
    model = hinted(tiny_model).transformer
    with pytest.raises(InputError, match=r"int64 of shape \(2, 16, 2\)"):
        model(tokens, hint=hint[..., 0])
    too_deep = hint.clone()
    too_deep[..., 1] = FILL_DEPTHS
    with pytest.raises(InputError, match="depths must lie in"):
        decode_tokens(model, tokens, torch.ones(2, 16, dtype=torch.bool), hint=too_deep)


def test_inpainting_reads_the_fill_hint_the_same_way_on_every_path(tiny_model, images):
    masks = torch.zeros(4, 16, 16, dtype=torch.bool)
    masks[:, 4:12, 2:14] = True
    model = hinted(tiny_model)
    config = DecodeConfig(total_steps=4)

    def inpaint(m):
        return m.inpaint(images, masks, config, generator=torch.Generator().manual_seed(0), precision="fp32")

    assert not torch.equal(inpaint(model).tokens, inpaint(tiny_model).tokens)  # the hint is read
    tokens, _ = model.tokenize_known(images, masks)
    hint = model.fill_hint(tokens, masks)
    assert torch.equal(hint[..., 0], tokens) and hint[..., 1].max() >= 2
    assert tiny_model.fill_hint(tokens, masks) is None
    pixels = to_uint8(images)  # InpaintingSet takes uint8 images; image i decodes with seed + i
    alone = [
        inpaint_one(model, to_tensor(pixels[i : i + 1]), masks[i : i + 1], config, seed=i) for i in range(len(images))
    ]
    batch = InpaintingSet(model, pixels, masks.numpy()).decode(config, precision="fp32")
    assert (batch.by_sweet_spot[4].images == np.concatenate(alone)).all()


def inpaint_one(model, image, mask, config, seed):
    result = model.inpaint(image, mask, config, generator=torch.Generator().manual_seed(seed), precision="fp32")
    return to_uint8(result.images)


def config(setup, **extra):
    return stage2_config(setup, loss_on="masked", **extra)


def test_training_with_the_hint_sees_the_fill_in_hole_rows_only_and_continues_a_model_without_it(setup):
    run = config(setup, mask_mix="{uniform: 0.5, strokes: 0.5}", **{"model.fill_hint": "true"})
    trainer = TransformerTrainer(run, progress=False)
    order = torch.arange(len(trainer.train_tokens))
    sample = trainer._batch(order, 0)
    tokens = sample.tokens
    batch = trainer._masked(tokens, sample.generator, sample.images)
    fill, depth = batch.hint.unbind(-1)
    holes = depth.any(dim=1)
    assert 0 < holes.sum() < len(tokens)  # both kinds of rows in this batch
    assert (fill[~holes] == 32).all() and (depth[~holes] == 0).all()  # uniform rows: no hint
    assert ((depth[holes] > 0) == batch.token_mask[holes]).all()  # a depth wherever a hole row is masked
    known = ~batch.token_mask[holes]
    assert torch.equal(fill[holes][known], batch.inputs[holes][known])  # the filled image's own tokens
    trainer.fit()
    assert trainer.best_val < float("inf")
    # a run with the hint continues a model without it (its hint starts at zero: the same function) ...
    plain = TransformerTrainer(config(setup, out_dir=str(setup / "plain")), progress=False)
    plain.fit()
    start = setup / "plain" / "best.safetensors"
    continued = TransformerTrainer(
        config(setup, out_dir=str(setup / "more"), init_from=str(start), **{"model.fill_hint": "true"}), progress=False
    )
    assert (continued.model.hint_embedding.weight == 0).all()
    # ... but not the other way round: a hint would be thrown away
    with pytest.raises(TrainingError, match="another architecture"):
        TransformerTrainer(
            config(setup, out_dir=str(setup / "back"), init_from=str(setup / "run" / "best.safetensors")),
            progress=False,
        )


def test_the_first_shipped_model_decodes_exactly_as_before_the_new_inputs_existed():
    """tests/data/shipped_decode.json was written by tests/pinned.py before the transformer took the fill hint or
    named classes; the first shipped model (legs/emoji-v1.safetensors) still decodes to the same tokens."""
    expected = json.loads(PINNED.read_text())
    with torch.no_grad():
        now = pinned_decode()
    assert now["tokens"] == expected["tokens"]
    assert torch.allclose(torch.tensor(now["logits"]), torch.tensor(expected["logits"]), atol=1e-4)
