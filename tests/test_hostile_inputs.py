"""Hostile and awkward inputs: each ends in the right result or a one-line error with exit code 2, never a
traceback, never a changed input file."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from maskgit.cli import main
from maskgit.errors import ConfigError
from maskgit.training.config import TokenizerTrainConfig, TransformerTrainConfig, load_train_config


def one_line_error(capsys, argv: list[str]) -> str:
    """Run the CLI; it must exit 2 with exactly one line on stderr (no traceback). Returns that line."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


NUMBERS = [
    (["inpaint", "--model", "m", "--out", "o", "--limit", "-3"], "--limit: must be at least 0, got -3"),
    (["sweep", "--model", "m", "--out", "o", "--limit", "abc"], "--limit: expected a whole number, got 'abc'"),
    (["generate", "--model", "m", "--out", "o", "--count", "0"], "--count: must be at least 1, got 0"),
    (["fid", "a", "b", "--batch-size", "0"], "--batch-size: must be at least 1, got 0"),
    (["inpaint", "--model", "m", "--out", "o", "--temperature", "nan"], "--temperature: must be a finite number"),
    (["inpaint", "--model", "m", "--out", "o", "--steps", "0"], "--steps: must be at least 1"),
    (["generate", "--model", "m", "--out", "o", "--cfg-scale", "-1"], "--cfg-scale: must be at least 0.0"),
    (["inpaint", "--model", "m", "--out", "o", "--seed", "-1"], "--seed: must be at least 0"),
    (["data", "masks", "--out", "o", "--count", "0"], "--count: must be at least 1"),
    (["inpaint", "--model", "m"], "required: --out"),
]


@pytest.mark.parametrize(("argv", "message"), NUMBERS, ids=[" ".join(a[:1] + a[-2:]) for a, _ in NUMBERS])
def test_a_command_line_number_out_of_range_is_a_one_line_error(capsys, argv, message):
    assert message in one_line_error(capsys, argv)


@pytest.mark.parametrize(
    ("device", "message"),
    [("banana", "unknown device 'banana'"), ("cuda:99", "cuda"), ("meta", "runs on cpu or cuda")],
)
def test_a_device_this_machine_lacks_is_a_one_line_error(capsys, model_file, tmp_path, device, message):
    if device == "cuda:99" and torch.cuda.device_count() > 99:
        pytest.skip("a machine with 100 GPUs")
    argv = ["generate", "--model", str(model_file), "--out", str(tmp_path / "o"), "--device", device]
    assert message in one_line_error(capsys, argv)


CONFIG_VALUES = [
    ("lr=abc", "lr must be a finite number, got 'abc'"),
    ("batch_size=abc", "batch_size must be a whole number, got 'abc'"),
    ("lr=-1.0", "lr must be above 0, got -1.0"),
    ("model=5", "model must be a mapping"),
    ("lr.x=1", "lr must be a finite number"),
    ("betas=[0.9]", "betas must be a list of 2 values"),
    ("flip=maybe", "flip must be true or false"),
    ("epochs=0", "epochs"),
    ("label_smoothing=1.5", None),  # transformer only
    ("perceptual_weight=-1", None),  # tokenizer only
    ("lr=[1", "not valid YAML"),
    ("precision=fp8", "precision must be auto, fp32 or bf16"),
]


@pytest.mark.parametrize("command", ["train", "train-tokenizer"])
@pytest.mark.parametrize(("override", "message"), CONFIG_VALUES, ids=[o for o, _ in CONFIG_VALUES])
def test_a_config_value_of_the_wrong_type_or_range_is_a_one_line_error(capsys, tmp_path, command, override, message):
    if message is None:
        only = "train" if override.startswith("label") else "train-tokenizer"
        if command != only:
            pytest.skip(f"{override} is a field of {only} only")
        message = override.split("=")[0] + " must be"
    needs = ["--set", "tokenizer=t.safetensors"] if command == "train" else []
    argv = [command, "--set", f"out_dir={tmp_path / 'run'}", *needs, "--set", override]
    assert message in one_line_error(capsys, argv)
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_yaml_reads_3e_4_as_a_string_and_the_config_takes_it_as_the_number_meant(tmp_path):
    (tmp_path / "c.yaml").write_text("lr: 3e-4\nbatch_size: 16.0\ntokenizer: t.safetensors\n")
    config = load_train_config(TransformerTrainConfig, tmp_path / "c.yaml", ["weight_decay=1e-2"])
    assert (config.lr, config.batch_size, config.weight_decay) == (3e-4, 16, 0.01)
    assert isinstance(config.batch_size, int)


def test_malformed_yaml_is_one_line_that_says_where(capsys, tmp_path):
    (tmp_path / "bad.yaml").write_text("lr: 3e-4\nmodel: {dim: 64\nepochs: 2\n")
    line = one_line_error(capsys, ["train-tokenizer", "--config", str(tmp_path / "bad.yaml")])
    assert "bad.yaml is not valid YAML" in line and "line 3, column 7" in line


def test_a_model_field_of_the_wrong_type_is_named():
    config = load_train_config(TokenizerTrainConfig, None, ["model.codebook_size=abc"])
    with pytest.raises(ConfigError, match="codebook_size must be a whole number, got 'abc'"):
        config.tokenizer_config()


def test_numbers_are_never_silently_reinterpreted():
    config = load_train_config(TokenizerTrainConfig, None, ["epochs=3.0", "lr=2e-4"])
    assert config.epochs == 3 and config.lr == pytest.approx(2e-4)
    with pytest.raises(ConfigError, match=r"epochs must be a whole number, got 3\.5"):
        load_train_config(TokenizerTrainConfig, None, ["epochs=3.5"])
    assert np.isfinite(config.lr)


# ---- outputs never destroy inputs --------------------------------------------------------------------------


@pytest.fixture
def image_folders(tmp_path):
    """8 RGB 16x16 images and masks (white = known, black = missing) in two folders."""
    rng = np.random.default_rng(0)
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(images / f"{i}.png")
        mask = np.full((16, 16), 255, np.uint8)
        mask[4:10, 3:12] = 0
        Image.fromarray(mask).save(masks / f"{i}.png")
    return images, masks


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def inpaint_args(model_file, images, masks, out, *extra):
    return [
        "inpaint",
        "--model",
        str(model_file),
        "--images",
        str(images),
        "--masks",
        str(masks),
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.parametrize("where", ["the images folder", "inside the images folder", "the masks folder", "above both"])
def test_inpaint_refuses_an_output_folder_that_overlaps_an_input(capsys, model_file, image_folders, where):
    images, masks = image_folders
    out = {
        "the images folder": images,
        "inside the images folder": images / "filled",
        "the masks folder": masks,
        "above both": images.parent,
    }[where]
    before = snapshot(images.parent)
    line = one_line_error(capsys, inpaint_args(model_file, images, masks, out))
    assert "would write into the input folder" in line
    assert snapshot(images.parent) == before  # nothing written, nothing changed


def test_a_rerun_replaces_the_earlier_run_completely(capsys, model_file, image_folders, tmp_path):
    images, masks = image_folders
    out = tmp_path / "out"
    assert main(inpaint_args(model_file, images, masks, out)) == 0
    assert main(inpaint_args(model_file, images, masks, out, "--limit", "3")) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    written = sorted(p.name for p in out.glob("image_*.png"))
    assert written == manifest["outputs"] == ["image_000.png", "image_001.png", "image_002.png"]
    assert len(list((out / "reconstruction").iterdir())) == 3
    assert not list(tmp_path.glob(".out.*"))  # no temporary folders left behind


def test_a_folder_maskgit_did_not_write_is_refused_as_output(capsys, model_file, image_folders, tmp_path):
    images, masks = image_folders
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("precious")
    assert "did not write" in one_line_error(capsys, inpaint_args(model_file, images, masks, out))
    assert (out / "chapter1.tex").read_text() == "precious"


def test_a_write_that_fails_midway_leaves_the_earlier_output_intact(tmp_path):
    from maskgit.fileio import MANIFEST, write_folder

    out = tmp_path / "out"
    write_folder(out, lambda folder: (folder / MANIFEST).write_text("{}"))

    def fails(folder: Path) -> None:
        (folder / "half.png").write_bytes(b"x")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_folder(out, fails)
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # the partial folder is gone


def test_fid_scores_exactly_the_images_a_manifest_lists(capsys, model_file, image_folders, tmp_path):
    images, masks = image_folders
    out = tmp_path / "out"
    assert main(inpaint_args(model_file, images, masks, out)) == 0
    capsys.readouterr()
    assert main(["fid", str(out), str(images)]) == 0  # preview.png and reconstruction/ are not results
    printed = capsys.readouterr().out
    assert "(8 vs 8 images)" in printed  # not 8 + 8 reconstructions + the preview
    (out / "image_003.png").unlink()
    assert "1 listed file(s) missing, e.g. image_003.png" in one_line_error(capsys, ["fid", str(out), str(images)])
