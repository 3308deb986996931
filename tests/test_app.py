"""What the inpainting page does (maskgit.app.actions), without a browser; tests/test_app_browser.py drives the page."""

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from maskgit import DecodeConfig, InputError
from maskgit.app import actions
from tests.conftest import untouched

RESOLUTION = 16  # the tiny preset


def picture(width: int, height: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_an_upload_at_the_models_resolution_is_taken_as_it_is(tmp_path):
    pixels = picture(16, 16)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    image, note = actions.read_upload(tmp_path / "a.png", RESOLUTION, 3)
    assert np.array_equal(image, pixels) and note == "16x16: the model's resolution."


def test_other_sizes_are_center_cropped_and_resized_and_the_note_says_so(tmp_path):
    pixels = np.zeros((40, 60, 3), np.uint8)
    pixels[:, 10:50] = 200  # the central 40x40 square, which the crop keeps
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    image, note = actions.read_upload(tmp_path / "wide.png", RESOLUTION, 3)
    assert image.shape == (16, 16, 3) and (image == 200).all()
    assert note == "60x40, center-cropped to 40x40 and resized to 16x16, the model's resolution."
    grey, _ = actions.read_upload(tmp_path / "wide.png", RESOLUTION, 1)
    assert grey.shape == (16, 16, 1)


def test_uploads_that_are_not_still_images_or_are_too_big_are_refused(tmp_path, monkeypatch):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(InputError, match=r"notes\.png is not an image this page can read"):
        actions.read_upload(tmp_path / "notes.png", RESOLUTION, 3)
    frames = [Image.fromarray(picture(20, 20, seed)) for seed in range(3)]
    frames[0].save(tmp_path / "moving.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(InputError, match=r"moving.gif is animated \(3 frames\): upload a still image"):
        actions.read_upload(tmp_path / "moving.gif", RESOLUTION, 3)
    Image.fromarray(picture(300, 200)).save(tmp_path / "big.png")
    monkeypatch.setattr(actions, "MAX_UPLOAD_PIXELS", 300 * 200 - 1)
    with pytest.raises(InputError, match=r"big\.png is 300x200 pixels"):
        actions.read_upload(tmp_path / "big.png", RESOLUTION, 3)
    monkeypatch.setattr(actions, "MAX_UPLOAD_BYTES", 100)
    with pytest.raises(InputError, match="upload an image under 0 MB"):
        actions.read_upload(tmp_path / "big.png", RESOLUTION, 3)


def test_one_drawn_display_pixel_marks_its_model_pixel_missing():
    assert actions.display_factor(RESOLUTION) == 16 and actions.display_factor(64) == 4
    layer = np.zeros((64, 64, 4), np.uint8)
    layer[9, 22, 3] = 255  # display pixel (9, 22) lies in model pixel (2, 5) at 4x
    assert np.argwhere(actions.mask_from_layers([layer, None], RESOLUTION)).tolist() == [[2, 5]]
    assert not actions.mask_from_layers([], RESOLUTION).any()


def test_the_mask_choices_are_the_benchmarks_and_one_missing_side():
    from maskgit.data.masks import benchmark_masks

    assert np.array_equal(actions.chosen_mask("large benchmark", 3, 16), benchmark_masks(4, 16, "large")[3])
    left = actions.chosen_mask("outpaint left", 0, 16)
    assert left[:, :8].all() and not left[:, 8:].any()
    with pytest.raises(InputError, match="numbered 0 to 746"):
        actions.chosen_mask("strokes benchmark", 747, 16)
    with pytest.raises(InputError, match="unknown mask 'drawn'"):
        actions.chosen_mask("drawn", 0, 16)


def test_inpainting_keeps_the_known_pixels_and_shows_every_step(tiny_model):
    image = picture(16, 16)
    mask = np.zeros((16, 16), bool)
    mask[4:10, 2:7] = True
    config = DecodeConfig(total_steps=3)
    done = actions.inpaint(tiny_model, image, mask, config, seed=1)
    far = untouched(mask)
    assert np.array_equal(done.result[far], image[far])  # known pixels beyond the blend's reach are the input's
    pasted = actions.inpaint(tiny_model, image, mask, replace(config, blend=0.0), seed=1)
    assert np.array_equal(pasted.result[~mask], image[~mask])  # blend 0 keeps every known pixel
    assert done.telea.shape == image.shape and np.array_equal(done.telea[~mask], image[~mask])
    assert len(done.steps) == 3 and done.unknown_tokens == 4  # the hole touches 2 x 2 of the 4x4 tokens
    assert done.steps[-1].caption == "step 3/3: 0/4 masked"
    last = done.steps[-1].picture
    assert last.shape == (16, 16 + 4 + 16, 3) and np.array_equal(last[:, 20:], done.result)
    again = actions.inpaint(tiny_model, image, mask, config, seed=1)
    assert np.array_equal(again.result, done.result)  # a seed gives the same result


def test_inpainting_with_nothing_missing_asks_for_a_mask(tiny_model):
    with pytest.raises(InputError, match="draw a mask with the brush"):
        actions.inpaint(tiny_model, picture(16, 16), np.zeros((16, 16), bool), DecodeConfig())


def test_generation_returns_the_samples_and_the_steps_of_the_first(tiny_model):
    images, steps = actions.generate(tiny_model, 3, DecodeConfig(total_steps=5), seed=2)
    assert images.shape == (3, 16, 16, 3) and len(steps) == 5
    assert steps[0].caption.endswith("/16 masked")
    with pytest.raises(InputError, match="unconditional"):
        actions.generate(tiny_model, 1, DecodeConfig(), class_id=0)


def test_the_page_inpaints_the_chosen_mask_plus_what_is_drawn():
    layer = np.zeros((256, 256, 4), np.uint8)
    layer[0:16, 240:256, 3] = 255  # top-right model pixel, drawn at 16x
    left = actions.chosen_mask("outpaint left", 0, RESOLUTION)
    both = actions.page_mask("outpaint left", 0, [layer], RESOLUTION)
    assert np.argwhere(both & ~left).tolist() == [[0, 15]] and (both & left).sum() == left.sum()
    assert actions.page_mask("drawn", 0, [layer], RESOLUTION).sum() == 1
    shown = actions.tinted(np.zeros((16, 16, 3), np.uint8), left, 16)
    assert (shown[:, :128, 0] > 0).all() and (shown[:, 128:] == 0).all()  # the chosen mask is tinted red


def test_the_page_decodes_with_its_presets_fields_that_it_has_no_control_for(monkeypatch):
    pytest.importorskip("gradio")
    from maskgit.app import page
    from maskgit.decoding import config

    generate = replace(config.DECODE_PRESETS["generate"], sample_temperature=0.7, cfg_schedule="linear")
    monkeypatch.setitem(config.DECODE_PRESETS, "generate", generate)
    chosen = page.decode_config("generate", "linear", 6, 0, 2.0, "sampled", 3.0)
    assert chosen == replace(generate, schedule="linear", total_steps=6, choice_temperature=2.0, cfg_scale=3.0)
    assert page.decode_config("inpaint", "square", 4, 0, 4.5, "greedy") == DecodeConfig()


def test_without_gradio_the_command_says_how_to_install_it(monkeypatch, capsys):
    import sys

    from maskgit.cli import main

    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio now fails
    monkeypatch.delitem(sys.modules, "maskgit.app.page", raising=False)
    assert main(["app", "--examples", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install -e '.[app]'" in err


def test_a_class_conditional_model_generates_the_asked_class():
    from maskgit import MaskGIT, TokenizerConfig, TransformerConfig

    config = TransformerConfig(**{**TransformerConfig.preset("tiny").__dict__, "num_classes": 3})
    model = MaskGIT.from_configs(TokenizerConfig.preset("tiny"), config).eval()
    first, _ = actions.generate(model, 2, DecodeConfig(total_steps=3, cfg_scale=2.0), seed=0, class_id=0)
    other, _ = actions.generate(model, 2, DecodeConfig(total_steps=3, cfg_scale=2.0), seed=0, class_id=2)
    assert first.shape == other.shape == (2, 16, 16, 3) and not np.array_equal(first, other)
    with pytest.raises(InputError, match=r"pick one of 0\.\.2"):
        actions.generate(model, 1, DecodeConfig(), class_id=3)
