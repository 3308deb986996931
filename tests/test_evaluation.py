"""Set-level inpainting, baselines and pixel metrics, and the inpaint / generate commands."""

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch
from PIL import Image

from maskgit import DecodeConfig, per_image_generators
from maskgit.cli import main
from maskgit.decoding.fill import FILLS
from maskgit.evaluation import masked_region_metrics, opencv_inpaint
from maskgit.experiments import InpaintingSet, tokenizer_reconstruction
from tests.conftest import untouched


@pytest.fixture
def pixels():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 16, 16, 3), dtype=np.uint8)
    masks = np.zeros((10, 16, 16), bool)
    masks[:, 4:12, 2:10] = True
    masks[3] = False  # an image with nothing missing
    return images, masks


def test_a_set_decodes_the_same_in_any_batch_size(tiny_model, pixels):
    config = DecodeConfig(total_steps=4)
    small = InpaintingSet(tiny_model, *pixels, batch_size=3).decode(config, seed=5)
    large = InpaintingSet(tiny_model, *pixels, batch_size=10).decode(config, seed=5)
    np.testing.assert_array_equal(small.by_sweet_spot[4].images, large.by_sweet_spot[4].images)


def test_every_sweet_spot_from_one_decode_equals_its_own_run(tiny_model, pixels):
    images = InpaintingSet(tiny_model, *pixels, batch_size=4)
    both = images.decode(DecodeConfig(total_steps=5), sweet_spots=[2, 5], seed=1)
    alone = images.decode(DecodeConfig(total_steps=5, sweet_spot=2), seed=1)
    np.testing.assert_array_equal(both.by_sweet_spot[2].images, alone.by_sweet_spot[2].images)
    assert both.by_sweet_spot[2].remaining[0] > 0 and both.by_sweet_spot[5].remaining.max() == 0
    assert both.masked_fraction.shape == (5,) and both.masked_fraction[-1] == 0


def test_known_pixels_are_kept_and_missing_ones_are_never_seen(tiny_model, pixels):
    images, masks = pixels
    changed = images.copy()
    changed[masks] = 255 - changed[masks]  # other content where pixels are missing
    config = DecodeConfig(total_steps=3)
    first = InpaintingSet(tiny_model, images, masks).decode(config).by_sweet_spot[3].images
    second = InpaintingSet(tiny_model, changed, masks).decode(config).by_sweet_spot[3].images
    far = untouched(masks)
    np.testing.assert_array_equal(first[far], images[far])  # known pixels beyond the blend's reach
    np.testing.assert_array_equal(first, second)  # what was at the missing pixels changed nothing


def test_trace_keeps_each_steps_mask_and_prediction(tiny_model, pixels):
    result = InpaintingSet(tiny_model, *pixels).decode(DecodeConfig(total_steps=4), trace_indices=[0, 7])
    trace = result.trace
    assert trace.indices == [0, 7]
    assert trace.token_masks.shape == (2, 4, 4, 4) and trace.predictions.shape == (2, 4, 16, 16, 3)
    assert trace.initial_mask[0].sum() > trace.token_masks[0, 0].sum() >= trace.token_masks[0, -1].sum() == 0


def test_images_of_the_wrong_size_are_refused(tiny_model, pixels):
    from maskgit.errors import InputError

    with pytest.raises(InputError, match="model takes 16x16x3"):
        InpaintingSet(tiny_model, np.zeros((2, 32, 32, 3), np.uint8), np.zeros((2, 32, 32), bool))


def test_tokenizer_reconstruction_keeps_shape_and_dtype(tiny_model, pixels):
    out = tokenizer_reconstruction(tiny_model, pixels[0], batch_size=4)
    assert out.shape == pixels[0].shape and out.dtype == np.uint8


def test_opencv_fills_only_the_missing_pixels(pixels):
    images, masks = pixels
    for method in ("telea", "navier-stokes"):
        out = opencv_inpaint(images, masks, method)
        np.testing.assert_array_equal(out[~masks], images[~masks])
        assert not np.array_equal(out[masks], images[masks])


def test_masked_metrics_count_only_missing_pixels():
    truth = np.zeros((2, 4, 4, 3), np.uint8)
    output = truth.copy()
    output[:, :2] = 255  # wrong in the top half
    masks = np.zeros((2, 4, 4), bool)
    masks[:, 2:] = True  # but only the bottom half is missing
    assert masked_region_metrics(output, truth, masks)["masked_l1"] == 0.0
    masks[:, :2] = True  # now half of the missing pixels are off by 1.0
    metrics = masked_region_metrics(output, truth, masks)
    assert metrics["masked_l1"] == pytest.approx(0.5)
    assert metrics["masked_psnr"] == pytest.approx(10 * np.log10(2))


def save_folder(folder, arrays, grey=False):
    folder.mkdir(parents=True)
    for i, array in enumerate(arrays):
        Image.fromarray(array if not grey else array.astype(np.uint8)).save(folder / f"img_{i}.png")


def test_inpaint_command_writes_lab_named_outputs_and_traces(model_file, pixels, tmp_path, capsys):
    images, masks = pixels
    save_folder(tmp_path / "in", images[:3])
    save_folder(tmp_path / "masks", np.where(masks[:3], 0, 255).astype(np.uint8), grey=True)
    out = tmp_path / "out"
    args = ["inpaint", "--model", str(model_file), "--images", str(tmp_path / "in"), "--masks", str(tmp_path / "masks")]
    assert main([*args, "--out", str(out), "--steps", "3", "--trace"]) == 0
    assert sorted(p.name for p in out.glob("image_*.png")) == ["image_000.png", "image_001.png", "image_002.png"]
    assert (out / "trace" / "image_001_masks.png").is_file() and (out / "trace" / "image_001.gif").is_file()
    with Image.open(out / "trace" / "image_001.gif") as gif:
        assert gif.n_frames == 3  # one frame per step
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"] == ["img_0.png", "img_1.png", "img_2.png"] and manifest["decode"]["total_steps"] == 3
    result = np.asarray(Image.open(out / "image_000.png"))
    far = untouched(masks[0])
    np.testing.assert_array_equal(result[far], images[0][far])
    assert "inpainted 3 images" in capsys.readouterr().out


@pytest.mark.parametrize("native_bf16", [True, False])
def test_the_api_inpaints_as_the_command_does_by_default(model_file, pixels, tmp_path, monkeypatch, native_bf16):
    """One default precision (auto) for `maskgit inpaint` and MaskGIT.inpaint: the same pixels either way."""
    from maskgit import MaskGIT, precision
    from maskgit.data.images import to_tensor, to_uint8
    from maskgit.decoding import parallel_decode

    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: native_bf16)
    decoded_in = []  # the autocast dtype of each decode

    def recorded(name, device):
        decoded_in.append(precision.autocast_dtype(name, device))
        return decoded_in[-1]

    monkeypatch.setattr(parallel_decode, "autocast_dtype", recorded)
    images, masks = pixels
    save_folder(tmp_path / "in", images[:3])
    save_folder(tmp_path / "masks", np.where(masks[:3], 0, 255).astype(np.uint8), grey=True)
    out = tmp_path / "out"
    args = ["inpaint", "--model", str(model_file), "--images", str(tmp_path / "in"), "--masks", str(tmp_path / "masks")]
    assert main([*args, "--out", str(out)]) == 0
    from_cli = np.stack([np.asarray(Image.open(out / f"image_{i:03d}.png")) for i in range(3)])
    model = MaskGIT.load(model_file)
    result = model.inpaint(to_tensor(images[:3]), torch.from_numpy(masks[:3]), generator=per_image_generators(range(3)))
    np.testing.assert_array_equal(to_uint8(result.images), from_cli)
    assert decoded_in == [torch.bfloat16 if native_bf16 else None] * 2  # the command's decode, then the API's


def test_decoding_flags_start_from_the_commands_preset_and_override_single_fields(model_file, pixels, tmp_path):
    images, masks = pixels
    save_folder(tmp_path / "in", images[:2])
    save_folder(tmp_path / "masks", np.where(masks[:2], 0, 255).astype(np.uint8), grey=True)
    args = ["inpaint", "--model", str(model_file), "--images", str(tmp_path / "in"), "--masks", str(tmp_path / "masks")]

    def decode_settings(*extra):
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        assert main([*args, "--out", str(out), *extra]) == 0
        return json.loads((out / "manifest.json").read_text())["decode"]

    assert decode_settings() == asdict(DecodeConfig.preset("inpaint")) == asdict(DecodeConfig())
    seeds = decode_settings("--decoding", "seeds", "--steps", "3")
    assert seeds == {**asdict(DecodeConfig.preset("seeds")), "total_steps": 3}
    assert seeds["confidence"] == "noisy-probs" and seeds["choice_temperature"] == 4.5


def test_inpaint_command_refuses_mismatched_masks_in_one_line(model_file, pixels, tmp_path, capsys):
    images, _ = pixels
    save_folder(tmp_path / "in", images[:2])
    save_folder(tmp_path / "masks", np.zeros((2, 8, 8), np.uint8), grey=True)
    save_folder(tmp_path / "big", np.zeros((2, 32, 32, 3), np.uint8))
    cases = [
        (["--images", str(tmp_path / "in"), "--masks", str(tmp_path / "masks")], "expected 16x16"),
        (["--images", str(tmp_path / "big"), "--masks", str(tmp_path / "masks")], "resize"),
        (["--images", str(tmp_path / "in")], "--masks"),
    ]
    for extra, message in cases:
        assert main(["inpaint", "--model", str(model_file), "--out", str(tmp_path / "o"), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


def test_generate_command_writes_samples_and_a_grid(model_file, tmp_path, capsys):
    out = tmp_path / "gen"
    assert (
        main(
            [
                "generate",
                "--model",
                str(model_file),
                "--count",
                "5",
                "--batch-size",
                "2",
                "--steps",
                "3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert len(list(out.glob("sample_*.png"))) == 5 and (out / "grid.png").is_file()
    assert main(["generate", "--model", str(model_file), "--class-id", "1", "--out", str(out)]) == 2
    assert "unconditional" in capsys.readouterr().err


@pytest.mark.parametrize("fill", FILLS)
def test_pipeline_inpaint_does_not_see_missing_pixels(tiny_model, images, fill):
    mask = torch.zeros(4, 16, 16, dtype=torch.bool)
    mask[:, 4:12, 4:12] = True
    other = images.masked_fill(mask[:, None], 0.7)
    config = DecodeConfig(total_steps=3)
    a = tiny_model.inpaint(images, mask, config, generator=torch.Generator().manual_seed(0), fill=fill)
    b = tiny_model.inpaint(other, mask, config, generator=torch.Generator().manual_seed(0), fill=fill)
    torch.testing.assert_close(a.reconstruction, b.reconstruction)


def test_near_duplicates_are_copies_of_a_training_image_or_its_mirror():
    from maskgit.evaluation.generation import near_duplicate_share, nearest_training_l1

    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    shifted = train[3].astype(np.int64)
    shifted[0, 0, 0] += 96 if shifted[0, 0, 0] < 128 else -96  # one value off by 96
    samples = np.stack([train[2], train[5][:, ::-1], shifted.astype(np.uint8), rng.integers(0, 256, (8, 8, 3))])
    distance = nearest_training_l1(samples.astype(np.uint8), train)
    assert distance[0] == 0 and distance[1] == 0  # a copy, and a mirrored copy
    assert distance[2] == pytest.approx(96 / 255 / (8 * 8 * 3))
    assert distance[3] > 0.2  # noise is far from everything
    assert near_duplicate_share(samples.astype(np.uint8), train) == 0.75


def test_a_sample_is_recognised_as_its_class_when_its_nearest_real_image_has_that_class():
    from maskgit.errors import InputError
    from maskgit.evaluation.generation import class_match

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (3, 16))  # three well separated classes
    reference = np.repeat(centres, 4, axis=0) + rng.normal(0, 0.1, (12, 16))
    reference_labels = np.repeat(np.arange(3), 4)
    samples = centres[[0, 1, 2, 2, 0]] + rng.normal(0, 0.1, (5, 16))
    # drawn for classes 0, 1, 2 (recognised), 1 (looks like 2: not recognised) and 7 (not in the reference)
    assert class_match(reference, reference_labels, samples, np.array([0, 1, 2, 1, 7])) == (0.75, 4)
    assert class_match(reference, reference_labels, samples[:3], np.array([1, 2, 0])) == (0.0, 3)
    with pytest.raises(InputError, match="none of the samples' classes"):
        class_match(reference, reference_labels, samples, np.full(5, 7))
    with pytest.raises(InputError, match="labels"):
        class_match(reference, reference_labels[:5], samples, np.zeros(5, dtype=np.int64))


@pytest.mark.parametrize("fill", ["telea", "grey"])
def test_the_inpaint_command_writes_the_same_pixels_as_maskgit_inpaint(tiny_model, model_file, pixels, tmp_path, fill):
    from maskgit.data.images import to_tensor, to_uint8

    images, masks = pixels
    save_folder(tmp_path / "in", images[:5])
    save_folder(tmp_path / "masks", np.where(masks[:5], 0, 255).astype(np.uint8), grey=True)
    args = ["inpaint", "--model", str(model_file), "--images", str(tmp_path / "in"), "--masks", str(tmp_path / "masks")]
    assert main([*args, "--out", str(tmp_path / "out"), "--seed", "7", "--batch-size", "2", "--fill", fill]) == 0
    written = np.stack([np.asarray(Image.open(tmp_path / "out" / f"image_{i:03d}.png")) for i in range(5)])
    api = tiny_model.inpaint(
        to_tensor(images[:5]),
        torch.from_numpy(masks[:5]),
        DecodeConfig(),
        generator=per_image_generators(range(7, 12)),
        fill=fill,
    )
    np.testing.assert_array_equal(written, to_uint8(api.images))
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["fill"] == fill
    assert (written[masks[:5]] != images[:5][masks[:5]]).any()  # the holes were really filled, not copied


class PixelFeatures:
    """A stand-in for the Inception network: 2048 features from the pixels (fast; same interface)."""

    fingerprint = "pixels"

    def __call__(self, images, progress=False):
        flat = images.reshape(len(images), -1).astype(np.float64) / 255.0  # each image's own pixels, repeated
        return np.tile(flat, (1, -(-2048 // flat.shape[1])))[:, :2048] + np.arange(2048) * 1e-6


def test_generation_scores_give_precision_recall_and_the_asked_classs_fid(tmp_path, monkeypatch):
    from maskgit.cli.evaluate import score_samples
    from tests.test_data import write_idx

    monkeypatch.setenv("MASKGIT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("maskgit.data.fashion_mnist.VAL_IMAGES", 4)
    monkeypatch.setattr("maskgit.evaluation.inception.InceptionFeatures", lambda device: PixelFeatures())
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 44), ("t10k", 40)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(count) % 10)
    samples = rng.integers(0, 256, (12, 28, 28, 1), dtype=np.uint8)
    scores = score_samples(samples, f"fashion-mnist:{tmp_path}", "cpu", class_id=3)
    assert 0 <= scores["precision"] <= 1 and 0 <= scores["recall"] <= 1
    assert scores["class_fid"] != scores["fid"]  # against the 4 test images of class 3 alone
    assert {"fid", "kid", "near_duplicates", "class_kid"} <= set(scores)
    assert scores["near_duplicates"] == 0.0
    assert "class_match" not in scores  # no per-sample classes given
    # a class-conditional model's samples: copies of test images, the first 8 drawn for their own class
    from maskgit.classes import ClassVocabulary
    from maskgit.data.registry import load_images

    test = load_images(f"fashion-mnist:{tmp_path}", "test")
    vocabulary = ClassVocabulary("category", tuple(test.class_names))
    drawn_for = (test.labels[:12] + np.array([0] * 8 + [1] * 4)) % 10
    scores = score_samples(
        test.images[:12], f"fashion-mnist:{tmp_path}", "cpu", classes=vocabulary, sample_classes=drawn_for
    )
    assert scores["class_match"] == 8 / 12
    other_names = ClassVocabulary("category", tuple(f"class {k}" for k in range(10)))  # not the data's classes
    scores = score_samples(
        test.images[:12], f"fashion-mnist:{tmp_path}", "cpu", classes=other_names, sample_classes=drawn_for
    )
    assert "class_match" not in scores
    # copies are counted against the training images the model saw, when told which: here copies of 6 of them
    (other := tmp_path / "other").mkdir()
    copied = rng.integers(0, 256, (50, 28, 28))
    for prefix, images in (("train", copied), ("t10k", copied[:10])):
        write_idx(other / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(other / f"{prefix}-labels-idx1-ubyte.gz", np.arange(len(images)) % 10)
    samples[:6] = copied[:6, :, :, None]
    scores = score_samples(samples, f"fashion-mnist:{tmp_path}", "cpu", copies_of=f"fashion-mnist:{other}")
    assert scores["near_duplicates"] == 0.5
