"""Decoding and compositing options for inpainting (issue 21, item 5): the token mask grown by rings of neighbours,
the fill blended in through a blurred mask, and refinement passes that decode the least confident tokens again."""

import json

import numpy as np
import pytest
import torch

from maskgit import ConfigError, DecodeConfig, decode_tokens
from maskgit.cli import main
from maskgit.decoding.token_mask import blurred, composite, grow_token_mask
from maskgit.errors import InputError
from maskgit.experiments.sweep import Sweep, SweepConfig
from tests.test_decoding import random_problem
from tests.test_evaluation import save_folder


def test_growing_adds_rings_of_neighbours_on_the_token_grid():
    mask = torch.zeros(1, 25, dtype=torch.bool)
    mask[0, 12] = True  # the centre of a 5x5 grid
    assert torch.equal(grow_token_mask(mask, 0), mask)
    one = grow_token_mask(mask, 1).view(5, 5)
    assert one.sum() == 9 and one[1:4, 1:4].all()
    assert grow_token_mask(mask, 2).all()
    corner = torch.zeros(1, 25, dtype=torch.bool)
    corner[0, 0] = True
    assert grow_token_mask(corner, 1).sum() == 4  # clipped at the border


def test_blending_keeps_the_fill_in_holes_and_the_input_far_away():
    decoded, images = torch.ones(1, 3, 16, 16), -torch.ones(1, 3, 16, 16)
    mask = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    mask[..., 6:10, 6:10] = True
    assert torch.equal(composite(decoded, images, mask), decoded.where(mask, images))  # blend 0 pastes
    soft = composite(decoded, images, mask, blend=1.0)
    assert torch.equal(soft[mask.expand_as(soft)], decoded[mask.expand_as(soft)])  # holes: the decoder's pixels
    assert (soft[..., 0, 0] == -1).all()  # far from the hole: the input's
    beside = soft[0, 0, 8, 10]  # one pixel outside the hole: in between
    assert -1 < beside < 1
    weight = blurred(mask, 1.0)
    assert weight.max() == 1 and weight[0, 0, 8, 11] < weight[0, 0, 8, 10]  # falling off with distance


def test_a_grown_mask_decodes_the_neighbours_again(tiny_model):
    tokens, token_mask = random_problem()
    config = DecodeConfig(total_steps=4, grow=1)
    generator = torch.Generator().manual_seed(0)
    result = decode_tokens(tiny_model.transformer, tokens, token_mask, config, generator=generator)
    grown = grow_token_mask(token_mask, 1)
    assert torch.equal(result.tokens[~grown], tokens[~grown])  # beyond the ring: kept
    assert (result.tokens[grown & ~token_mask] != tokens[grown & ~token_mask]).any()  # the ring: decoded again


def test_refinement_decodes_the_least_confident_quarter_again_and_nothing_else(tiny_model):
    tokens, token_mask = random_problem(batch=6)
    plain = DecodeConfig(total_steps=4)
    refined = DecodeConfig(total_steps=4, refine_steps=2)

    def run(config):
        generator = torch.Generator().manual_seed(0)
        return decode_tokens(tiny_model.transformer, tokens, token_mask, config, generator=generator, return_trace=True)

    before, after = run(plain), run(refined)
    assert torch.equal(after.tokens[~token_mask], tokens[~token_mask])
    changed = (before.tokens != after.tokens).sum(dim=1)
    quarter = torch.ceil(token_mask.sum(dim=1) * 0.25)
    assert (changed <= 2 * quarter).all() and changed.sum() > 0
    assert len(after.trace) == 4 and torch.equal(after.trace[-1].predicted, after.tokens)
    assert torch.equal(run(refined).tokens, after.tokens)  # the generator decides: reproducible


def test_editing_options_are_checked_and_reach_the_command_line(model_file, tmp_path, capsys):
    for field in ("grow", "refine_steps", "blend"):
        with pytest.raises(ConfigError, match=f"{field} must be at least 0"):
            DecodeConfig(**{field: -1})
    rng = np.random.default_rng(0)
    save_folder(tmp_path / "in", rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8))
    masks = np.full((2, 16, 16), 255, np.uint8)
    masks[:, 4:12, 2:10] = 0
    save_folder(tmp_path / "masks", masks, grey=True)
    args = ["inpaint", "--model", str(model_file), "--images", str(tmp_path / "in"), "--masks", str(tmp_path / "masks")]
    assert main([*args, "--out", str(tmp_path / "out"), "--grow", "1", "--blend", "1.5", "--refine-steps", "1"]) == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())["decode"]
    assert (manifest["grow"], manifest["blend"], manifest["refine_steps"]) == (1, 1.5, 1)
    assert main([*args, "--out", str(tmp_path / "bad"), "--grow", "-1"]) == 2
    assert "--grow" in capsys.readouterr().err


def test_a_sweep_folder_written_before_the_editing_options_resumes_only_as_it_decoded(tiny_model, tmp_path):
    """Folders from before grow, blend and refine_steps decoded without them (pasted, decoded once): they resume
    with those settings off, and refuse the defaults that now blend."""
    pasted = SweepConfig(model="", blend=0.0)
    old = {k: v for k, v in pasted.identity().items() if k not in ("refine_steps", "grow", "blend")}
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "sweep.json").write_text(json.dumps({"identity": {**old, "model": None}}))
    Sweep(pasted, tmp_path / "old", model=tiny_model, progress=False, log=lambda _: None)  # resumes
    with pytest.raises(InputError, match="other blend"):
        Sweep(SweepConfig(model=""), tmp_path / "old", model=tiny_model, progress=False, log=lambda _: None)
    assert SweepConfig(model="").decode_config(8, "cosine") == DecodeConfig(total_steps=8, schedule="cosine")
    assert DecodeConfig().blend == 1.0 and DecodeConfig.preset("seeds").blend == 0.0  # the seeds pasted
