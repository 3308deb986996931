"""Stage-2 recipe options (issue 21): training masks shaped like the task (maskgit.masking.mix, mask_mix) and
targets that know the codebook (codebook_smoothing, embedding_from_codebook)."""

import pytest
import torch

from maskgit.config import config_to_dict
from maskgit.data.masks import benchmark_masks, stroke_mask
from maskgit.errors import ConfigError
from maskgit.masking.mix import check_mask_mix, draw_kinds, is_uniform_only, shaped_pixel_masks
from maskgit.masking.mvtm import mask_tokens
from maskgit.training.config import differences
from maskgit.training.transformer_trainer import TransformerTrainer
from tests.conftest import stage2_config


def test_a_mix_names_known_kinds_with_shares_that_add_up():
    check_mask_mix({"uniform": 0.5, "strokes": 0.25, "large": 0.25})
    for mix, message in (
        ({"circles": 1.0}, "unknown mask kind"),
        ({"uniform": -1.0}, "numbers >= 0"),
        ({"uniform": 0.0}, "more than 0"),
        ({}, "numbers >= 0"),
    ):
        with pytest.raises(ConfigError, match=message):
            check_mask_mix(mix)
    assert is_uniform_only({"uniform": 1.0}) and is_uniform_only({"uniform": 2.0, "strokes": 0})
    assert not is_uniform_only({"uniform": 1.0, "large": 0.1})


def test_kinds_are_drawn_in_the_mixs_proportions():
    kinds = draw_kinds({"uniform": 0.5, "strokes": 0.25, "large": 0.25}, 4000, torch.Generator().manual_seed(0))
    assert kinds.count("uniform") == pytest.approx(2000, abs=150)
    assert kinds.count("strokes") == pytest.approx(1000, abs=120) and kinds.count("boxes") == 0


def test_shaped_masks_are_the_hole_generators_on_the_steps_seed_and_never_the_benchmark_sets():
    import numpy as np

    kinds = ["strokes", "uniform", "large", "strokes"]
    masks = shaped_pixel_masks(kinds, resolution=64, seed=5)
    assert masks.shape == (4, 64, 64) and not masks[1].any()  # uniform rows are drawn on tokens, elsewhere
    rng = np.random.Generator(np.random.PCG64(5))
    assert torch.equal(masks[0], torch.from_numpy(stroke_mask(rng, 64)))
    assert torch.equal(shaped_pixel_masks(kinds, 64, seed=5), masks)  # the step's seed decides: resumable
    benchmark = torch.from_numpy(benchmark_masks(4, 64))
    assert not torch.equal(shaped_pixel_masks(["strokes"] * 4, 64, seed=2024), benchmark)


def test_uniform_only_training_draws_exactly_what_it_drew_before(setup):
    trainer = TransformerTrainer(stage2_config(setup), progress=False)
    tokens = torch.randint(0, 32, (8, 16))
    batch = trainer._masked(tokens, torch.Generator().manual_seed(3))
    plain = mask_tokens(tokens, 32, schedule="cosine", generator=torch.Generator().manual_seed(3))
    assert torch.equal(batch.token_mask, plain.token_mask) and torch.equal(batch.inputs, plain.inputs)


def test_hole_rows_are_what_inpainting_sees_and_a_run_trains_on_them(setup):
    trainer = TransformerTrainer(stage2_config(setup, mask_mix="{strokes: 1.0}", loss_on="masked"), progress=False)
    order = torch.arange(len(trainer.train_tokens))
    sample = trainer._batch(order, 0)
    tokens, images = sample.tokens, sample.images
    batch = trainer._masked(tokens, sample.generator, images)
    again = trainer._masked(tokens, trainer._batch(order, 0).generator, images)
    assert torch.equal(batch.token_mask, again.token_mask) and torch.equal(batch.inputs, again.inputs)
    plain = mask_tokens(tokens, 32, schedule="cosine", generator=trainer._batch(order, 0).generator)
    assert not torch.equal(batch.token_mask, plain.token_mask)
    assert batch.token_mask.any(dim=1).all()  # every stroke hides at least one token
    # the clean images' tokens are the targets; the inputs are tokenize_known's: the filled image's tokens
    assert torch.equal(batch.targets, tokens)
    assert torch.equal(trainer.tokenizer.encode(images).flatten(1), tokens)  # the batch's images are its tokens'
    assert batch.hint is None  # this model reads no fill hint
    trainer.fit()
    assert trainer.step == 6 and trainer.best_val < float("inf")


def test_a_run_saved_before_mask_mix_existed_resumes(setup):
    current = stage2_config(setup)
    saved = config_to_dict(current)
    del saved["mask_mix"]
    assert differences(saved, current) == []
    assert differences(saved, stage2_config(setup, mask_mix="{strokes: 1.0}")) == [
        "mask_mix ({'uniform': 1.0} -> {'strokes': 1.0})"
    ]


def test_codebook_aware_targets_are_training_options(setup):
    trainer = TransformerTrainer(
        stage2_config(setup, codebook_smoothing=0.3, embedding_from_codebook=True, loss_on="masked"), progress=False
    )
    assert trainer.neighbours.shape == (32, 32)
    assert trainer.model.token_embedding.weight[:32].std().item() == pytest.approx(0.02, rel=1e-3)
    trainer.fit()
    assert trainer.best_val < float("inf")
    plain = TransformerTrainer(stage2_config(setup, out_dir=str(setup / "plain")), progress=False)
    assert plain.neighbours is None
