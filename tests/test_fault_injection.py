"""Faults in the middle of work: SIGKILL, SIGINT and a full disk during inpainting, a sweep, FID and both
trainings. What was there before stays intact, a re-run or resume gives the uninterrupted result, and no
temporary file is left behind."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from maskgit.checkpoint import load_checkpoint

WORKER = Path(__file__).resolve().parent / "fault_worker.py"
NO_SPACE = "maskgit: error: No space left on device (nothing written was left half-done)"


def run(*arguments: str, fault: tuple[str, int, str] | None = None) -> subprocess.CompletedProcess:
    """maskgit ARGUMENTS in a fresh process, with a fault injected (see fault_worker.py)."""
    target, nth, kind = fault or ("maskgit.cli:main", 99, "SIGKILL")  # 99: never reached
    command = [sys.executable, str(WORKER), target, str(nth), kind, "--", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Temporary files and folders (atomic_write's .NAME.tmp-PID, write_folder's .NAME.*.partial)."""
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob(".*") if ".tmp-" in p.name or p.name.endswith(".partial")
    )


@pytest.fixture
def inpainting(tmp_path, model_file):
    rng = np.random.default_rng(0)
    for name in ("images", "masks"):
        (tmp_path / name).mkdir()
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "images" / f"{i}.png")
        mask = np.full((16, 16), 255, np.uint8)
        mask[3:11, 2:9] = 0
        Image.fromarray(mask).save(tmp_path / "masks" / f"{i}.png")
    args = [
        "inpaint",
        "--model",
        str(model_file),
        "--images",
        str(tmp_path / "images"),
        "--masks",
        str(tmp_path / "masks"),
    ]
    return tmp_path, args


@pytest.mark.parametrize(("fault", "code"), [("SIGKILL", -signal.SIGKILL), ("SIGINT", 130), ("ENOSPC", 2)])
def test_a_fault_while_inpainting_leaves_the_earlier_output_and_a_rerun_gives_the_whole_result(inpainting, fault, code):
    root, args = inpainting
    assert run(*args, "--out", str(root / "out"), "--limit", "2").returncode == 0  # an earlier run
    earlier = snapshot(root / "out")
    assert run(*args, "--out", str(root / "straight")).returncode == 0  # the uninterrupted result
    faulty = run(*args, "--out", str(root / "out"), fault=("maskgit.data.images:save_png", 4, fault))
    assert faulty.returncode == code, faulty.stderr
    if fault != "SIGKILL":
        last = faulty.stderr.strip().splitlines()[-1]  # after the progress bar
        assert "Traceback" not in faulty.stderr and last in ("maskgit: interrupted", NO_SPACE), faulty.stderr
        assert leftovers(root) == []  # cleaned up on the way out
    assert snapshot(root / "out") == earlier  # the earlier run is untouched
    assert run(*args, "--out", str(root / "out")).returncode == 0
    assert leftovers(root) == []  # a killed run's partial folder is gone too
    result, straight = snapshot(root / "out"), snapshot(root / "straight")
    result.pop("manifest.json"), straight.pop("manifest.json")  # they differ in timings only
    assert result == straight


def test_a_sweep_killed_between_cells_resumes_to_the_uninterrupted_table(setup, model_file):
    args = ["sweep", "--model", str(model_file), "--data", f"folder:{setup / 'images'}", "--schedules", "cosine,linear"]
    args += ["--steps", "1,3", "--baselines", "telea", "--batch-size", "4"]
    assert run(*args, "--out", str(setup / "straight")).returncode == 0
    killed = run(*args, "--out", str(setup / "sweep"), fault=("maskgit.experiments.sweep:Sweep._record", 2, "SIGKILL"))
    assert killed.returncode == -signal.SIGKILL
    assert len((setup / "sweep" / "results.jsonl").read_text().splitlines()) == 1  # one cell was finished
    assert run(*args, "--out", str(setup / "sweep")).returncode == 0
    rows = {
        json.loads(x)["key"]: json.loads(x)["fid"] for x in (setup / "sweep" / "results.jsonl").read_text().splitlines()
    }
    straight = (setup / "straight" / "results.jsonl").read_text().splitlines()
    assert rows == {json.loads(x)["key"]: json.loads(x)["fid"] for x in straight}
    assert leftovers(setup) == []


def test_fid_killed_while_caching_features_gives_the_same_score_on_a_rerun(setup, monkeypatch):
    monkeypatch.setenv("MASKGIT_HOME", str(setup / "home"))
    folder = f"folder:{setup / 'images'}"
    killed = run("fid", str(setup / "images"), folder, fault=("numpy:save", 1, "SIGKILL"))
    assert killed.returncode == -signal.SIGKILL
    assert len(leftovers(setup / "home")) == 1  # the half-written cache file
    first = run("fid", str(setup / "images"), folder)
    second = run("fid", str(setup / "images"), folder)
    assert first.returncode == second.returncode == 0, first.stderr
    assert json.loads(first.stdout.splitlines()[-1])["fid"] == json.loads(second.stdout.splitlines()[-1])["fid"]
    assert leftovers(setup / "home") == []  # the killed writer's temporary file was removed


TOKENIZER = [
    "preset=tiny",
    "epochs=2",
    "batch_size=8",
    "checkpoint_every=2",
    "log_every=1",
    "warmup_steps=2",
    "gan_start_step=3",
    "discriminator_channels=8",
    "restart_dead_codes_every=4",
    "sample_images=2",
]


def test_tokenizer_training_killed_mid_run_resumes_to_the_same_weights(setup):
    settings = [a for o in [f"data=folder:{setup / 'images'}", *TOKENIZER] for a in ("--set", o)]
    straight = run("train-tokenizer", "--no-progress", *settings, "--set", f"out_dir={setup / 'straight'}")
    assert straight.returncode == 0, straight.stderr
    out = ["--set", f"out_dir={setup / 'killed'}"]
    step = ("maskgit.training.tokenizer_trainer:TokenizerTrainer.train_step", 6, "SIGKILL")  # after step 4's state
    assert run("train-tokenizer", "--no-progress", *settings, *out, fault=step).returncode == -signal.SIGKILL
    assert not (setup / "killed" / "model.safetensors").exists()
    resumed = run("train-tokenizer", "--no-progress", *settings, *out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a = load_checkpoint(setup / "straight" / "model.safetensors").tokenizer.state_dict()
    b = load_checkpoint(setup / "killed" / "model.safetensors").tokenizer.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert leftovers(setup) == []


def test_a_full_disk_while_checkpointing_keeps_the_last_checkpoint_and_training_resumes(setup):
    settings = [a for o in [f"data=folder:{setup / 'images'}", *TOKENIZER] for a in ("--set", o)]
    out = ["--set", f"out_dir={setup / 'run'}"]
    full = run("train-tokenizer", "--no-progress", *settings, *out, fault=("torch:save", 2, "ENOSPC"))
    assert full.returncode == 2 and full.stderr.strip().splitlines()[-1] == NO_SPACE, full.stderr
    states = sorted(p.name for p in (setup / "run" / "checkpoints").iterdir())
    assert states == ["step_0000002.pt"]  # the one written before the disk filled, whole
    torch.load(setup / "run" / "checkpoints" / states[0], weights_only=False)
    assert leftovers(setup) == []
    resumed = run("train-tokenizer", "--no-progress", *settings, *out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "trained 12 steps" in resumed.stdout
