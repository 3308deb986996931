"""`maskgit experiment`: the seeds' experiments with the spread over decoding seeds."""

import csv

import pytest

from maskgit.cli import main
from maskgit.errors import InputError
from maskgit.evaluation.inception import InceptionFeatures
from maskgit.experiments.replications import SEED_STRIDE, ExperimentConfig, run_experiment, summarise
from maskgit.experiments.results import ResultRow
from maskgit.experiments.sweep import SweepConfig


def row(fid, seed_key="cosine-T20-S20", schedule="cosine", steps=20, spot=20):
    return ResultRow(seed_key, "decode", fid, 0.01, 0.0, 6, 0.1, 20.0, schedule=schedule, steps=steps, sweet_spot=spot)


def test_cells_are_summarised_over_seeds_with_mean_and_sample_std():
    rows = [("a", row(1.0)), ("a", row(2.0)), ("a", row(3.0)), ("b", row(5.0))]
    rows.append(("a", ResultRow("telea", "baseline", 9.0, 0.0, 0.0, 6, 0.1, 20.0)))  # baselines are not cells
    a, b = summarise(rows)
    assert (a.arm, a.fids, a.fid, a.fid_std) == ("a", (1.0, 2.0, 3.0), 2.0, 1.0)
    assert (b.fid, b.fid_std) == (5.0, 0.0)  # one seed: no spread


def test_a_sweep_can_score_just_the_named_step_pairs():
    config = SweepConfig(model="m", schedules=["cosine", "square"], step_pairs=[(20, 20), (19, 2)])
    assert config.steps == [19, 20]
    assert config.cells() == [("cosine", 19, 2), ("cosine", 20, 20), ("square", 19, 2), ("square", 20, 20)]
    with pytest.raises(InputError, match="1 <= S <= T"):
        SweepConfig(model="m", step_pairs=[(4, 5)])


@pytest.fixture(scope="module")
def inception():
    return InceptionFeatures(batch_size=8)


def test_the_schedules_experiment_tables_every_cell_over_seeds_and_resumes(setup, tiny_model, inception, monkeypatch):
    model = setup / "model.safetensors"
    tiny_model.save(model)
    monkeypatch.setattr("maskgit.experiments.replications.InceptionFeatures", lambda device: inception)
    config = ExperimentConfig("schedules", model=str(model), data=f"folder:{setup / 'images'}", seeds=2, batch_size=4)
    out = setup / "exp"
    result = run_experiment(config, out, progress=False, log=lambda _: None)
    # 2 rules x 3 schedules x the reports' 2 cells, each decoded with 2 seeds
    assert len(result.spreads) == 12 and all(len(s.fids) == 2 for s in result.spreads)
    assert {(s.steps, s.sweet_spot) for s in result.spreads} == {(20, 20), (19, 2)}
    lab = [s for s in result.spreads if s.arm == "lab rule"]
    assert any(s.fid_std > 0 for s in lab)  # the seeds decode differently: a spread to judge differences by
    with open(out / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 12 and {"fid_mean", "fid_std", "fid_seed0", "fid_seed1"} <= set(table[0])
    text = (out / "results.md").read_text()
    assert "49.44" in text and "OpenCV Telea" in text  # the seeds' own number beside ours
    for name in ("figure.png", "report.html", "report.md"):
        assert (out / name).is_file()
    seeds = sorted(p.name for p in (out / "sweeps").iterdir())
    assert seeds == ["lab-rule-seed0", "lab-rule-seed1", "maskgit-rule-seed0", "maskgit-rule-seed1"]
    assert f'"seed": {SEED_STRIDE}' in (out / "sweeps" / "lab-rule-seed1" / "sweep.json").read_text()
    notes = []
    again = run_experiment(config, out, progress=False, log=notes.append)
    assert [s.fids for s in again.spreads] == [s.fids for s in result.spreads]
    assert sum("already in" in n for n in notes) == 4  # every sweep was finished: nothing decoded again


def test_the_loss_variants_train_two_models_that_differ_only_in_the_loss(setup, inception, monkeypatch):
    import yaml

    monkeypatch.setattr("maskgit.experiments.replications.InceptionFeatures", lambda device: inception)
    config = ExperimentConfig(
        "loss-variants",
        model=str(setup / "tokenizer.safetensors"),
        data=f"folder:{setup / 'images'}",
        seeds=1,
        batch_size=4,
        train_steps=3,
    )
    result = run_experiment(config, setup / "loss", progress=False, log=lambda _: None)
    assert [a.name for a in result.study.arms] == ["loss on all tokens", "loss on masked tokens"]
    runs = [
        yaml.safe_load((setup / "loss" / "train" / f"loss-{v}" / "config.yaml").read_text()) for v in ("all", "masked")
    ]
    differ = {k for k in runs[0] if runs[0][k] != runs[1][k]}
    assert differ == {"loss_on", "out_dir"}
    assert {s.arm for s in result.spreads} == {"loss on all tokens", "loss on masked tokens"}


def test_the_editing_experiment_decodes_each_option_against_the_default(setup, tiny_model, inception, monkeypatch):
    import json

    model = setup / "model.safetensors"
    tiny_model.save(model)
    monkeypatch.setattr("maskgit.experiments.replications.InceptionFeatures", lambda device: inception)
    config = ExperimentConfig("editing", model=str(model), data=f"folder:{setup / 'images'}", seeds=1, batch_size=4)
    result = run_experiment(config, setup / "editing", progress=False, log=lambda _: None)
    assert [s.arm for s in result.spreads] == ["default", "paste", "grow 1", "refine 2", "grow 1 + refine 2"]
    saved = json.loads((setup / "editing" / "sweeps" / "grow-1-+-refine-2-seed0" / "sweep.json").read_text())["config"]
    assert (saved["grow"], saved["blend"], saved["refine_steps"]) == (1, 1.0, 2)  # the default blend kept
    pasted = json.loads((setup / "editing" / "sweeps" / "paste-seed0" / "sweep.json").read_text())["config"]
    assert pasted["blend"] == 0.0
    default, paste = result.spreads[0], result.spreads[1]
    assert paste.masked_psnr == default.masked_psnr  # blending changes only known pixels beside the holes
    assert paste.fid != default.fid


def test_experiment_errors_are_one_line(tmp_path, capsys):
    assert main(["experiment", "schedules", "--model", str(tmp_path / "none.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "no model at" in err and len(err.strip().splitlines()) == 1
    assert main(["experiment", "everything"]) == 2
    assert "invalid choice" in capsys.readouterr().err
