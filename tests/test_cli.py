import subprocess
import sys

import pytest

from maskgit.cli import main


def test_presets_lists_every_preset_with_its_size(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in ("lab", "emoji", "grey32", "tiny", "base"):
        assert name in out
    assert "72.75 M" in out  # the seeds' transformer


def test_inspect_shows_the_configs(tiny_model, tmp_path, capsys):
    path = tmp_path / "model.safetensors"
    tiny_model.save(path)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "format 2" in out and "codebook_size = 32" in out


def test_bad_input_is_one_line_on_stderr_with_exit_code_2(tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint at all")
    for target in (tmp_path / "missing.safetensors", broken):
        run = subprocess.run(
            [sys.executable, "-m", "maskgit.cli", "inspect", str(target)], capture_output=True, text=True
        )
        assert run.returncode == 2
        assert run.stdout == ""
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("maskgit: error: ")


def test_data_masks_writes_the_asked_number_of_pngs(tmp_path, capsys):
    assert main(["data", "masks", "--kind", "boxes", "--count", "4", "--resolution", "32", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"mask_{i:03d}.png" for i in range(4)]
    assert "4 masks" in capsys.readouterr().out


def test_data_show_counts_the_splits_and_writes_a_sample_grid(tmp_path, capsys):
    from PIL import Image

    for i in range(20):
        Image.new("RGB", (16, 16), (i * 10, 0, 0)).save(tmp_path / f"{i}.png")
    grid = tmp_path / "grid" / "samples.png"
    assert main(["data", "show", f"folder:{tmp_path}", "--resolution", "16", "--out", str(grid)]) == 0
    out = capsys.readouterr().out
    assert "train     17 images, 16x16x3" in out and grid.is_file()


def test_data_errors_are_one_line(capsys):
    assert main(["data", "show", "folder:/no/such/folder"]) == 2
    assert capsys.readouterr().err.strip() == "maskgit: error: /no/such/folder is not a folder"


def test_tokenizer_metrics_reports_l1_and_psnr(setup, capsys):
    import json

    assert (
        main(
            [
                "tokenizer-metrics",
                "--model",
                str(setup / "tokenizer.safetensors"),
                "--data",
                f"folder:{setup / 'images'}",
            ]
        )
        == 0
    )
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["images"] == 6 and 0 < figures["l1"] < 1 and figures["psnr"] > 0
    assert "fid" not in figures
    args = ["tokenizer-metrics", "--model", str(setup / "tokenizer.safetensors"), "--data", f"folder:{setup}/images"]
    assert main([*args, "--fid"]) == 0
    out = capsys.readouterr().out
    with_fid = json.loads(out.strip().splitlines()[-1])
    assert with_fid["l1"] == figures["l1"] and with_fid["fid"] > 0 and with_fid["kid"] == with_fid["kid"]  # not NaN
    assert "reconstruction FID" in out


def test_precision_auto_is_bf16_only_where_the_cpu_does_bf16_natively(monkeypatch):
    import torch

    from maskgit import precision
    from maskgit.errors import ConfigError

    cpu = torch.device("cpu")
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: True)  # AVX-512 BF16 or AMX
    assert precision.autocast_dtype("auto", cpu) == torch.bfloat16
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: False)  # AVX2 only: bf16 would be emulated
    assert precision.autocast_dtype("auto", cpu) is None
    assert precision.autocast_dtype("bf16", cpu) == torch.bfloat16
    assert precision.autocast_dtype("fp32", torch.device("meta")) is None
    with pytest.raises(ConfigError, match="precision must be one of auto, fp32, bf16, not 'half'"):
        precision.autocast_dtype("half", cpu)
