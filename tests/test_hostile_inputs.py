"""Hostile and awkward inputs: each ends in the right result or a one-line error with exit code 2, never a
traceback, never a changed input file."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from maskgit import DecodeConfig, per_image_generators
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
    (["generate", "--model", "m", "--out", "o", "--sample-temperature", "0"], "--sample-temperature: must be above 0"),
    (["inpaint", "--model", "m", "--out", "o", "--seed", "-1"], "--seed: must be at least 0"),
    (["generate", "--model", "m", "--out", "o", "--seed", str(2**64)], "--seed: must be at most 9223372036854775807"),
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
    ("precision=fp8", "precision must be one of auto, fp32, bf16"),
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


def test_outputs_and_checkpoints_get_the_permissions_of_plain_new_files(tmp_path):
    """Written through a temporary name, they still end up as open() and mkdir() would make them (umask 022:
    rw-r--r-- and rwxr-xr-x), not private to their owner as mkdtemp's folders and safetensors' files are."""
    import os

    from maskgit.checkpoint import save_checkpoint
    from maskgit.fileio import MANIFEST, write_folder
    from maskgit.transformer import BidirectionalTransformer, TransformerConfig

    previous = os.umask(0o022)
    try:
        write_folder(tmp_path / "out", lambda folder: (folder / MANIFEST).write_text("{}"))
        transformer = BidirectionalTransformer(TransformerConfig.preset("tiny"))
        save_checkpoint(tmp_path / "model.safetensors", transformer=transformer)
    finally:
        os.umask(previous)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "model.safetensors").stat().st_mode & 0o777 == 0o644


def test_fid_scores_exactly_the_images_a_manifest_lists(capsys, model_file, image_folders, tmp_path):
    images, masks = image_folders
    out = tmp_path / "out"
    assert main(inpaint_args(model_file, images, masks, out)) == 0
    capsys.readouterr()
    assert main(["fid", str(out), str(images)]) == 0  # preview/ and reconstruction/ are not results
    printed = capsys.readouterr().out
    assert "(8 vs 8 images)" in printed  # not 8 + 8 reconstructions + the preview
    (out / "image_003.png").unlink()
    assert "1 listed file(s) missing, e.g. image_003.png" in one_line_error(capsys, ["fid", str(out), str(images)])


# ---- every image mode Pillow reads -------------------------------------------------------------------------


def palette(index_colour: tuple[int, int, int]) -> list[int]:
    return [*index_colour, 0, 0, 255] + [0, 0, 0] * 254


MODES = {  # a 4x4 file of one pixel value -> the RGB maskgit must read
    "L": (lambda: Image.new("L", (4, 4), 100), "png", (100, 100, 100)),
    "1": (lambda: Image.new("1", (4, 4), 1), "png", (255, 255, 255)),
    "P": (lambda: _palette_image(transparent=False), "png", (200, 10, 20)),
    "P transparent": (lambda: _palette_image(transparent=True), "png", (255, 255, 255)),
    "LA opaque": (lambda: Image.new("LA", (4, 4), (100, 255)), "png", (100, 100, 100)),
    "LA transparent": (lambda: Image.new("LA", (4, 4), (100, 0)), "png", (255, 255, 255)),
    "RGBA half": (lambda: Image.new("RGBA", (4, 4), (0, 0, 0, 128)), "png", (127, 127, 127)),
    "I;16": (lambda: Image.fromarray(np.full((4, 4), 25700, np.uint16)), "png", (100, 100, 100)),
    "I;16 white": (lambda: Image.fromarray(np.full((4, 4), 65535, np.uint16)), "png", (255, 255, 255)),
    "CMYK": (lambda: Image.new("CMYK", (4, 4), (0, 255, 255, 0)), "jpg", (255, 0, 0)),
    "RGB bmp": (lambda: Image.new("RGB", (4, 4), (1, 2, 3)), "bmp", (1, 2, 3)),
}


def _palette_image(transparent: bool) -> Image.Image:
    image = Image.new("P", (4, 4), 0)
    image.putpalette(palette((200, 10, 20)))
    if transparent:
        image.info["transparency"] = 0
    return image


@pytest.mark.parametrize("mode", list(MODES))
def test_every_image_mode_reads_as_the_rgb_it_shows(tmp_path, mode):
    from maskgit.data.images import read_image

    make, suffix, expected = MODES[mode]
    path = tmp_path / f"image.{suffix}"
    image = make()
    image.save(path, **({"transparency": 0} if mode == "P transparent" else {}))
    pixels = read_image(path)
    assert pixels.shape == (4, 4, 3) and pixels.dtype == np.uint8
    tolerance = 3 if suffix == "jpg" else 1  # JPEG is lossy
    assert np.abs(pixels.astype(int) - expected).max() <= tolerance, pixels[0, 0]


def test_a_16_bit_mask_reads_as_the_mask_it_shows(tmp_path):
    from maskgit.data.masks import read_mask

    values = np.full((8, 8), 65535, np.uint16)
    values[2:5, 1:7] = 0  # black: missing
    Image.fromarray(values).save(tmp_path / "mask.png")
    mask = read_mask(tmp_path / "mask.png", 8)
    assert mask.sum() == 18 and mask[2:5, 1:7].all()


@pytest.mark.parametrize("mode", ["I", "F"])
def test_32_bit_images_are_refused_with_the_reason(mode):
    from maskgit.data.images import as_rgb8
    from maskgit.errors import DataError

    with pytest.raises(DataError, match=r"32-bit .* save it as an 8- or 16-bit PNG"):
        as_rgb8(Image.new(mode, (4, 4), 7))


# ---- the Python API says what it expected ------------------------------------------------------------------

BAD_IMAGES = {
    "0..255 pixels": (lambda x: (x + 1) * 127.5, "divide 0..255 pixels by 127.5"),
    "an inf": (lambda x: x.index_put((torch.tensor([0]),), torch.tensor(float("inf"))), "finite values in [-1, 1]"),
    "a NaN": (lambda x: x.index_put((torch.tensor([1]),), torch.tensor(float("nan"))), "finite values in [-1, 1]"),
    "uint8": (lambda x: ((x + 1) * 127.5).to(torch.uint8), "expected float images"),
    "no batch axis": (lambda x: x[0], "expected float images of shape (B, 3, 16, 16)"),
    "float64": (lambda x: x.double(), "expected float32 images (the model's weights are float32), got torch.float64"),
    "float16": (lambda x: x.half(), "got torch.float16: convert them with images.to(torch.float32)"),
    "bfloat16": (lambda x: x.bfloat16(), "got torch.bfloat16"),
}


DECODING_CALLS = {  # (the call on a model m, images x and a mask k; what the error says)
    "a fractional step count": (lambda m, x, k: m.inpaint(x, k, DecodeConfig(total_steps=4.5)), "total_steps must be"),
    "a bool step count": (lambda m, x, k: m.inpaint(x, k, DecodeConfig(total_steps=True)), "total_steps must be"),
    "a text temperature": (lambda m, x, k: DecodeConfig(choice_temperature="hot"), "choice_temperature must be"),
    "a zero sample temperature": (lambda m, x, k: DecodeConfig(sample_temperature=0.0), "sample_temperature must be"),
    "a float image count": (lambda m, x, k: m.generate(2.0), "num_images must be a whole number of at least 1"),
    "a seed beyond 64 bits": (lambda m, x, k: per_image_generators([2**64]), "in [0, 2**64)"),
    "a fractional seed": (lambda m, x, k: per_image_generators([1.5]), "seeds must be whole numbers"),
    "a number as generator": (lambda m, x, k: m.inpaint(x, k, generator=3), "generator must be a torch.Generator"),
    "an unknown precision": (lambda m, x, k: m.inpaint(x, k, precision="half"), "precision must be one of auto"),
}


@pytest.mark.parametrize("case", list(DECODING_CALLS))
def test_decoding_arguments_of_the_wrong_type_say_what_was_expected(tiny_model, images, case):
    from maskgit.errors import MaskGitError

    call, message = DECODING_CALLS[case]
    mask = torch.zeros(4, 16, 16, dtype=torch.bool)
    mask[:, 2:6] = True
    with pytest.raises(MaskGitError, match=re.escape(message)):
        call(tiny_model, images, mask)


def test_class_ids_must_be_int64():
    from maskgit import TransformerConfig
    from maskgit.config import replace_config
    from maskgit.errors import InputError
    from maskgit.transformer.model import BidirectionalTransformer

    model = BidirectionalTransformer(replace_config(TransformerConfig.preset("tiny"), num_classes=3))
    with pytest.raises(InputError, match=re.escape("class_ids must be int64 of shape (1,), got (1,) torch.float32")):
        model(torch.zeros(1, 16, dtype=torch.int64), torch.zeros(1))


@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_inpaint_refuses_images_out_of_range_or_shape(tiny_model, images, case):
    from maskgit.errors import InputError

    change, message = BAD_IMAGES[case]
    mask = torch.zeros(4, 16, 16, dtype=torch.bool)
    mask[:, 2:6] = True
    with pytest.raises(InputError, match=re.escape(message)):
        tiny_model.inpaint(change(images.clone()), mask)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (torch.zeros(4, 16, 16, dtype=torch.uint8), "must be a bool tensor"),
        (np.zeros((4, 16, 16), bool), "must be a bool tensor"),
        (torch.zeros(4, 8, 8, dtype=torch.bool), "does not match images"),
        (torch.zeros(16, 16, dtype=torch.bool), "must be"),
    ],
    ids=["uint8", "numpy", "other size", "no batch axis"],
)
def test_inpaint_refuses_masks_of_the_wrong_type_or_shape(tiny_model, images, mask, message):
    from maskgit.errors import InputError

    with pytest.raises(InputError, match=message):
        tiny_model.inpaint(images, mask)


# ---- checkpoints are checked before anything is built ------------------------------------------------------


class Payload:
    """Unpickling this would create a file: proof that nothing was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_checkpoint_is_named_and_never_unpickled(tmp_path, capsys):
    marker = tmp_path / "payload-ran"
    torch.save({"state": Payload(marker)}, tmp_path / "model.pt")
    line = one_line_error(capsys, ["inspect", str(tmp_path / "model.pt")])
    assert "is a PyTorch pickle (torch.save)" in line and "never unpickles" in line
    assert not marker.exists()


def _rewrite_header(path: Path, change) -> None:
    from safetensors.torch import save_file

    from maskgit.checkpoint import METADATA_KEY, read_checkpoint

    header, tensors = read_checkpoint(path)
    change(header["models"])
    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(header)})


def test_a_header_that_claims_a_huge_model_is_refused_before_it_is_built(model_file):
    from maskgit.checkpoint import load_checkpoint
    from maskgit.errors import CheckpointError

    def huge(models: dict) -> None:  # about 3.3 TB of float32 weights if it were built
        models["transformer"].update(dim=65536, mlp_hidden=262144, depth=48)

    _rewrite_header(model_file, huge)
    with pytest.raises(CheckpointError, match=r"the weights do not fit the model \(missing blocks\.10"):
        load_checkpoint(model_file)


def test_a_header_value_of_the_wrong_type_is_named(model_file):
    from maskgit.checkpoint import load_checkpoint
    from maskgit.errors import CheckpointError

    _rewrite_header(model_file, lambda models: models["transformer"].update(dim="32"))
    with pytest.raises(
        CheckpointError, match=r"the transformer config is invalid \(dim must be a whole number, got .32."
    ):
        load_checkpoint(model_file)


def test_maskgit_load_takes_a_run_folder_like_the_command_line(tiny_model, tmp_path):
    from maskgit import MaskGIT

    tiny_model.save(tmp_path / "best.safetensors")
    loaded = MaskGIT.load(tmp_path)
    assert loaded.transformer.config == tiny_model.transformer.config


@pytest.mark.parametrize("spec", ["/nope", "./missing_folder", "results/x.csv"])
def test_fid_of_a_missing_path_says_so(capsys, spec):
    assert f"no folder or file at {spec}" in one_line_error(capsys, ["fid", spec, "emoji"])


# ---- training where the hardware is not what the command asks ----------------------------------------------


def test_more_torchrun_processes_than_gpus_is_refused_with_what_to_do(monkeypatch):
    from maskgit.training.runtime import start_runtime

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(
        ConfigError, match=r"started 2 processes on this machine but it has 1 GPU\(s\): use --nproc_per_node=1"
    ):
        start_runtime("auto")


def test_training_on_cuda_without_a_gpu_is_a_one_line_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = ["train-tokenizer", "--set", f"out_dir={tmp_path / 'run'}", "--set", "device=cuda", "--set", "preset=tiny"]
    assert "device is cuda but this machine has no CUDA GPU" in one_line_error(capsys, argv)


# ---- unreadable files: one rule everywhere -----------------------------------------------------------------


def test_an_unreadable_image_or_mask_skips_its_pair_with_one_warning(capsys, model_file, image_folders, tmp_path):
    images, masks = image_folders
    (images / "2.png").write_bytes(b"not a png")
    (masks / "5.png").write_bytes(b"not a png either")
    assert main(inpaint_args(model_file, images, masks, tmp_path / "out")) == 0
    err = capsys.readouterr().err
    warnings_ = [line for line in err.splitlines() if line.startswith("maskgit: warning:")]
    assert warnings_ == [
        "maskgit: warning: 1 unreadable image file(s) skipped: 2.png (UnidentifiedImageError)",
        "maskgit: warning: 1 unreadable mask file(s) skipped: 5.png (UnidentifiedImageError)",
    ]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["inputs"] == ["0.png", "1.png", "3.png", "4.png", "6.png", "7.png"]  # pairs stay paired


def test_strict_refuses_an_unreadable_file_instead(capsys, model_file, image_folders, tmp_path):
    images, masks = image_folders
    (images / "2.png").write_bytes(b"not a png")
    line = one_line_error(capsys, [*inpaint_args(model_file, images, masks, tmp_path / "out"), "--strict"])
    assert "1 unreadable image file(s) found: 2.png" in line and "drop --strict" in line
    assert not (tmp_path / "out").exists()


def test_fid_skips_an_unreadable_file_with_a_warning_or_refuses_it_under_strict(capsys, image_folders):
    images, _ = image_folders
    (images / "9.png").write_bytes(b"\x89PNG broken")
    assert main(["fid", str(images), str(images)]) == 0
    captured = capsys.readouterr()
    assert "maskgit: warning: 1 unreadable image file(s) skipped: 9.png" in captured.err
    assert "(8 vs 8 images)" in captured.out
    assert "unreadable image file(s) found: 9.png" in one_line_error(
        capsys, ["fid", str(images), str(images), "--strict"]
    )


def test_an_image_of_another_size_is_an_error_not_a_skip(capsys, model_file, image_folders, tmp_path):
    images, masks = image_folders
    Image.new("RGB", (32, 32)).save(images / "3.png")
    line = one_line_error(capsys, inpaint_args(model_file, images, masks, tmp_path / "out"))
    assert "3.png is 32x32 but 16x16 is needed" in line
