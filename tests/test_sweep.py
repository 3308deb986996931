"""Sweeps over decoding settings with baselines, resuming, and the HTML report."""

import json
from dataclasses import replace

import numpy as np
import pytest

from maskgit.cli import main
from maskgit.decoding.config import DecodeConfig
from maskgit.errors import InputError
from maskgit.evaluation.inception import InceptionFeatures
from maskgit.experiments.folder import SweepFolder
from maskgit.experiments.inpainting import InpaintingSet
from maskgit.experiments.sweep import Sweep, SweepConfig


@pytest.fixture(scope="module")
def inception():
    return InceptionFeatures(batch_size=8)


@pytest.fixture
def sweep_setup(setup, tiny_model):
    model = setup / "model.safetensors"
    tiny_model.save(model)
    config = SweepConfig(
        model=str(model),
        data=f"folder:{setup / 'images'}",
        schedules=["cosine", "linear"],
        steps=[1, 3],
        sweet_spots=[2],
        confidence="sampled",  # a random tiny model's greedy choices barely depend on the step
        batch_size=4,
    )
    return config, setup / "sweep"


def test_a_sweep_scores_every_cell_and_baseline_and_writes_table_and_figures(sweep_setup, inception):
    config, out = sweep_setup
    rows = Sweep(config, out, extractor=inception, progress=False, log=lambda _: None).run()
    keys = [r.key for r in rows]
    # T = 1 is the same for every schedule: it runs once
    assert keys[:5] == ["cosine-T1-S1", "cosine-T3-S2", "cosine-T3-S3", "linear-T3-S2", "linear-T3-S3"]
    assert keys[5:] == ["raw", "telea", "navier-stokes", "oracle", "tokenizer"]
    for row in rows:
        assert row.images == 6 and 0 <= row.masked_l1 <= 1
    # a row scores what it names: Telea's FID recomputed from scratch on the same 6 test images
    from maskgit.data.benchmarks import load_benchmark
    from maskgit.evaluation import opencv_inpaint, score_features

    bench = load_benchmark(config.data, 16, 3)
    telea = score_features(inception(opencv_inpaint(bench.inputs, bench.masks, "telea")), inception(bench.truth))
    assert {r.key: r for r in rows}["telea"].fid == pytest.approx(telea.fid, rel=1e-9)
    assert len({round(r.fid, 6) for r in rows}) == len(rows)  # every method scored on its own output
    by_key = {r.key: r for r in rows}
    assert by_key["cosine-T3-S2"].remaining > 0 == by_key["cosine-T3-S3"].remaining
    for name in ("results.csv", "results.md", "fid_vs_steps.png", "masked_fraction.png", "benchmark_samples.npz"):
        assert (out / name).is_file(), name
    table = (out / "results.md").read_text()
    assert "| cosine |" in table and "OpenCV Telea" in table and "one-step decoding" in table
    assert len((out / "results.csv").read_text().splitlines()) == 1 + len(rows)
    # the oracle: the ground truth where known, the ground truth's own reconstruction in the holes
    bench = np.load(SweepFolder(out).benchmark_samples)
    oracle = np.load(SweepFolder(out).samples("oracle"))["images"]
    whole = np.load(SweepFolder(out).samples("tokenizer"))["images"]
    known = ~bench["masks"]
    assert np.array_equal(oracle[known], bench["truth"][known])
    assert np.array_equal(oracle[~known], whole[~known]) and not np.array_equal(oracle, bench["truth"])


def test_the_large_benchmark_scores_other_masks_and_a_sweep_keeps_to_one(sweep_setup, inception):
    config, out = sweep_setup
    config.steps, config.schedules, config.baselines = [2], ["cosine"], []
    strokes = Sweep(config, out, extractor=inception, progress=False, log=lambda _: None).run()
    config.masks = "large"
    with pytest.raises(InputError, match="other masks"):
        Sweep(config, out, extractor=inception, progress=False)
    large = Sweep(config, out.with_name("large"), extractor=inception, progress=False, log=lambda _: None).run()
    masks = np.load(out.with_name("large") / "benchmark_samples.npz")["masks"]
    assert np.all((masks.mean(axis=(1, 2)) >= 0.2) & (masks.mean(axis=(1, 2)) <= 0.55))
    assert large[0].masked_psnr != strokes[0].masked_psnr


def test_a_sweep_resumes_where_it_stopped_and_refuses_other_settings(sweep_setup, inception, monkeypatch):
    config, out = sweep_setup
    config.baselines = []
    config.steps = [1]
    Sweep(config, out, extractor=inception, progress=False, log=lambda _: None).run()
    decoded = []
    original = InpaintingSet.decode

    def counting(self, config, *args, **kwargs):
        decoded.append(config)
        return original(self, config, *args, **kwargs)

    monkeypatch.setattr(InpaintingSet, "decode", counting)
    config.steps = [1, 2]  # one new step count: only its cells run
    rows = Sweep(config, out, extractor=inception, progress=False, log=lambda _: None).run()
    assert [c.total_steps for c in decoded] == [2, 2]
    assert {r.key for r in rows} == {"cosine-T1-S1", "cosine-T2-S2", "linear-T2-S2"}
    config.temperature = 1.0
    with pytest.raises(InputError, match="other temperature"):
        Sweep(config, out, extractor=inception, progress=False)
    with pytest.raises(InputError, match="other fill"):
        Sweep(replace(config, temperature=DecodeConfig().choice_temperature, fill="grey"), out, progress=False)
    with pytest.raises(InputError, match="unknown fill 'blur'"):
        replace(config, fill="blur")


def test_report_is_one_self_contained_html_file_with_a_markdown_twin(sweep_setup, inception, capsys):
    config, out = sweep_setup
    config.steps = [2]
    config.baselines = []
    Sweep(config, out, extractor=inception, progress=False, log=lambda _: None).run()
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "<table>" in html and "cosine" in html and "data:image/png;base64," in html
    assert 'src="http' not in html and "src='http" not in html  # nothing to fetch
    markdown = (out / "report.md").read_text()
    assert "| schedule | T=2 |" in markdown and "report_files/comparison.png" in markdown
    assert (out / "report_files" / "comparison.png").is_file()
    assert "report:" in capsys.readouterr().out


def test_report_of_a_folder_that_is_neither_sweep_nor_run_is_a_one_line_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "neither a sweep folder" in capsys.readouterr().err


def test_sweep_command_prints_the_table_and_timings(sweep_setup, capsys):
    config, out = sweep_setup
    args = [
        "sweep",
        "--model",
        config.model,
        "--data",
        config.data,
        "--schedules",
        "cosine",
        "--steps",
        "2",
        "--baselines",
        "none",
        "--batch-size",
        "4",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| cosine |" in printed and "best: cosine T=2" in printed and "total" in printed
    assert json.loads((out / "sweep.json").read_text())["config"]["steps"] == [2]


def test_report_of_a_training_run_shows_its_config_and_curves(tmp_path):
    from PIL import Image

    from maskgit.experiments.report import write_report

    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    (run / "config.yaml").write_text("preset: tiny\nlr: 0.001\n")
    lines = [{"step": s, "train/loss": 5.0 - s / 10} for s in range(0, 40, 10)]
    lines += [{"step": 40, "val/loss": 4.2, "val/masked_accuracy": 0.1}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    Image.new("RGB", (8, 8)).save(run / "samples" / "step_000040.png")
    html, markdown = write_report(run)
    text = markdown.read_text()
    assert "lr: 0.001" in text and "val/loss 4.2" in text
    assert (run / "report_files" / "training_curves.png").is_file()
    assert html.read_text().count("data:image/png;base64,") == 2  # curves and the sample grid


def test_a_result_row_round_trips_through_its_jsonl_line_and_a_cut_line_is_refused():
    from maskgit.experiments.results import ResultRow

    row = ResultRow("square-T4-S4", "decode", 42.5, 0.01, 0.001, 747, 0.12, 14.7, "square", 4, 4, remaining=0.0)
    assert ResultRow.from_json(row.to_json()) == row
    old = '{"key": "telea", "kind": "baseline", "schedule": "", "steps": 0, "sweet_spot": 0, "fid": 38.7, "kid": 0.008,'
    old += ' "kid_std": 0.001, "images": 747, "masked_l1": 0.1, "masked_psnr": 17.0, "note": "cv2", "extra": 1}'
    assert ResultRow.from_json(old).fid == 38.7  # an older line with an unknown field still reads
    with pytest.raises(ValueError):
        ResultRow.from_json(row.to_json()[:40])


def test_the_one_step_cell_stands_in_for_the_one_step_baseline_and_shares_its_samples():
    from maskgit.experiments.results import ResultRow, baseline_rows, best_decode

    scores = dict(kid=0.0, kid_std=0.0, images=6, masked_l1=0.1, masked_psnr=15.0)
    one = ResultRow("cosine-T1-S1", "decode", 50.0, **scores, schedule="cosine", steps=1, sweet_spot=1)
    four = ResultRow("cosine-T4-S4", "decode", 45.0, **scores, schedule="cosine", steps=4, sweet_spot=4)
    telea = ResultRow("telea", "baseline", 40.0, **scores)
    derived = baseline_rows([one, four, telea])
    assert [r.key for r in derived] == ["one-step", "telea"]
    assert (
        derived[0].fid == 50.0 and derived[0].samples_key == "cosine-T1-S1" and derived[0].name == "one-step decoding"
    )
    assert best_decode([one, four, telea]) == four  # baselines never count as the best decoding
