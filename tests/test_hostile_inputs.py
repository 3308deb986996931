"""Hostile and awkward inputs: each ends in the right result or a one-line error with exit code 2, never a
traceback, never a changed input file."""

import numpy as np
import pytest
import torch

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
