"""Stage-2 training: checkpoints, exact resume (also after SIGKILL), refusals, and DDP under torchrun."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from maskgit import MaskGIT
from maskgit.checkpoint import read_checkpoint
from maskgit.errors import TrainingError
from maskgit.training import loop
from maskgit.training.config import TransformerTrainConfig, load_train_config
from maskgit.training.loop import PROBE
from maskgit.training.transformer_trainer import TransformerTrainer

TESTS = Path(__file__).resolve().parent


def overrides(root: Path, out: str = "run", **extra) -> list[str]:
    values = {
        "data": f"folder:{root / 'images'}",
        "tokenizer": str(root / "tokenizer.safetensors"),
        "preset": "tiny",
        "out_dir": str(root / out),
        "epochs": 2,
        "batch_size": 8,
        "checkpoint_every": 2,
        "keep_last": 2,
        "log_every": 1,
        "warmup_steps": 2,
        "sample_images": 3,
        "model.dropout": 0.1,  # dropout on, so an exact resume must also restore the dropout noise
    }
    values.update(extra)
    return [f"{k}={v}" for k, v in values.items()]


def train(root: Path, **extra) -> TransformerTrainer:
    resume = extra.pop("resume", False)
    trainer = TransformerTrainer(
        load_train_config(TransformerTrainConfig, None, overrides(root, **extra)), resume=resume, progress=False
    )
    trainer.fit()
    return trainer


def test_training_writes_what_inpainting_and_resuming_need(setup):
    trainer = train(setup)
    run = setup / "run"
    assert trainer.step == 12  # 51 images // 8 = 6 steps an epoch, 2 epochs
    model = MaskGIT.load(run / "model.safetensors")
    result = model.inpaint(torch.zeros(1, 3, 16, 16), torch.ones(1, 16, 16, dtype=torch.bool))
    assert result.images.shape == (1, 3, 16, 16)
    assert (run / "best.safetensors").is_file() and (run / "config.yaml").is_file()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_0000010.pt", "step_0000012.pt"]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["epoch_000.png", "epoch_001.png"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "train/loss" in r] == list(range(1, 13))
    assert [r["step"] for r in records if "val/loss" in r] == [6, 12]
    assert any(p.name.startswith("events.out.tfevents") for p in (run / "tb").iterdir())


@pytest.mark.parametrize("continued", [False, True])
def test_an_interrupted_run_resumes_exactly(setup, monkeypatch, continued):
    extra = {}
    if continued:  # a run that starts from another's weights: its data seed (from the start's hash) resumes too
        train(setup, out="first", epochs=1)
        extra["init_from"] = setup / "first" / "model.safetensors"
    straight = train(setup, out="straight", **extra)

    original = TransformerTrainer.train_step

    def crash_at_step_9(self, order):
        if self.step == 9:
            raise KeyboardInterrupt  # after the checkpoint at step 8
        return original(self, order)

    monkeypatch.setattr(TransformerTrainer, "train_step", crash_at_step_9)
    with pytest.raises(KeyboardInterrupt):
        train(setup, out="interrupted", **extra)
    monkeypatch.setattr(TransformerTrainer, "train_step", original)
    resumed = train(setup, out="interrupted", resume=True, **extra)
    assert resumed.step == 12 and resumed.data_seed == straight.data_seed
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_a_killed_training_process_resumes_from_its_last_checkpoint(setup):
    command = [sys.executable, "-m", "maskgit.cli", "train", "--no-progress"]
    settings = [a for o in overrides(setup, epochs=60) for a in ("--set", o)]
    first = subprocess.Popen(command + settings, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = setup / "run" / "checkpoints"
    deadline = time.time() + 600  # generous: a loaded CI machine may be slow to start torch
    while not (checkpoints.is_dir() and any(checkpoints.glob("step_*.pt"))) and time.time() < deadline:
        if first.poll() is not None:
            pytest.fail(f"the training process ended (code {first.returncode}) before its first checkpoint")
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert any(checkpoints.glob("step_*.pt")), "no checkpoint within 600 s"
    assert first.returncode == -signal.SIGKILL
    assert not (setup / "run" / "model.safetensors").exists()  # it really died mid-run
    killed_at = max(int(p.stem.split("_")[1]) for p in checkpoints.glob("step_*.pt"))
    assert 0 < killed_at < 360
    second = subprocess.run(command + settings + ["--resume"], capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert "trained 360 steps" in second.stdout
    records = [json.loads(line) for line in (setup / "run" / "metrics.jsonl").read_text().splitlines()]
    train_steps = [r["step"] for r in records if "train/loss" in r]
    assert train_steps == list(range(1, 361))  # once each: what was logged after the checkpoint was redone
    MaskGIT.load(setup / "run" / "model.safetensors")


def test_resuming_with_a_different_setup_names_the_change(setup):
    train(setup, epochs=1)
    with pytest.raises(TrainingError, match=r"different setup: lr \(0\.0003 -> 0\.001\)"):
        train(setup, epochs=1, lr=0.001, resume=True)
    with pytest.raises(TrainingError, match="already holds a run: pass --resume"):
        train(setup, epochs=1)
    with pytest.raises(TrainingError, match="nothing to resume"):
        train(setup, out="fresh", resume=True)


def test_a_tokenizer_checkpoint_is_required(setup, capsys):
    from maskgit.cli import main

    assert main(["train", "--set", f"data=folder:{setup / 'images'}"]) == 2
    assert "set `tokenizer` to a tokenizer checkpoint" in capsys.readouterr().err


TOKENIZER_SETTINGS = ["preset=tiny", "gan_start_step=2", "discriminator_channels=8", "restart_dead_codes_every=3"]


@pytest.mark.skipif(
    shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists(),
    reason="torchrun not installed",
)
@pytest.mark.parametrize("stage", ["transformer", "tokenizer"])
def test_two_processes_under_torchrun_keep_identical_weights_and_only_rank_0_writes(setup, stage):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    reports = setup / "reports"
    reports.mkdir()
    # 2 processes x batch 4 = 8 images a step, as in the single-process tests
    args = [*overrides(setup, out="ddp", batch_size=4), "device=cpu"]  # gloo on the CPU, on any machine
    if stage == "tokenizer":  # the tokenizer with every loss on: perceptual, GAN (adaptive weight), code restarts
        args = [
            a
            for a in args
            if a.split("=")[0] in ("data", "out_dir", "epochs", "batch_size", "checkpoint_every", "log_every", "device")
        ]
        args += TOKENIZER_SETTINGS
    run = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=2", str(TESTS / "ddp_worker.py"), str(reports), stage, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in run.stderr.splitlines() if not re.match(r"[WI]\d{4} ", line)]  # drop torch's notices
    assert run.returncode == 0, "\n".join(errors)[-4000:]
    rank0, rank1 = (json.loads((reports / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["step"] == rank1["step"] == 12
    assert rank0["digest"] == rank1["digest"]  # DDP kept both replicas identical
    assert rank0["state_saves"] == 7 and rank1["state_saves"] == 0  # steps 2, 4, ..., 12 and the end
    records = [json.loads(line) for line in (setup / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "train/loss" in r] == list(range(1, 13))  # one writer


def test_non_finite_losses_are_skipped_and_training_stops_if_they_persist(setup, monkeypatch):
    import maskgit.training.transformer_trainer as stage2

    real_loss = stage2.mvtm_loss
    monkeypatch.setattr(stage2, "mvtm_loss", lambda *args, **kwargs: real_loss(*args, **kwargs) * float("nan"))
    with pytest.raises(TrainingError, match="20 steps in a row had non-finite losses"):
        train(setup, epochs=4)
    latest = sorted((setup / "run" / "checkpoints").glob("step_*.pt"))[-1]
    state = torch.load(latest, weights_only=False)
    fresh = TransformerTrainer(
        load_train_config(TransformerTrainConfig, None, overrides(setup, out="fresh")), progress=False
    )
    for name, value in fresh.model.state_dict().items():
        assert torch.equal(state["model"][name], value), name  # no NaN step was ever applied


def labelled_data(setup: Path, monkeypatch) -> str:
    """A tiny Fashion-MNIST in `setup` (44 training images of the 10 classes): a data spec with labels."""
    from tests.test_data import write_idx

    monkeypatch.setattr("maskgit.data.fashion_mnist.VAL_IMAGES", 4)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 44), ("t10k", 4)):
        write_idx(setup / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28)))
        write_idx(setup / f"{prefix}-labels-idx1-ubyte.gz", np.arange(count) % 10)
    return f"fashion-mnist:{setup}"


def test_a_class_conditional_model_learns_from_the_dataset_labels(setup, monkeypatch):
    trainer = train(setup, data=labelled_data(setup, monkeypatch), class_conditional=True, epochs=1)
    assert trainer.model.config.num_classes == 10
    # the training batches carry the dataset's labels (the null class only where dropped for guidance)
    index, _ = trainer.micro_batch(trainer.epoch_order(0), 0)
    classes = trainer._batch(trainer.epoch_order(0), 0).classes
    labels = torch.from_numpy(trainer.train_tokens.labels[index].astype(np.int64))
    null = trainer.model.config.null_class_id
    assert torch.all((classes == labels) | (classes == null)) and (classes == labels).sum() >= len(labels) // 2
    assert len(set(labels.tolist())) > 1
    model = MaskGIT.load(setup / "run" / "model.safetensors")
    extra = read_checkpoint(setup / "run" / "model.safetensors")[0]["extra"]
    assert extra["class_labels"] == "category" and len(extra["class_names"]) == 10  # what each class id means
    assert sum(extra["class_counts"]) == len(trainer.train_tokens) and min(extra["class_counts"]) > 0
    assert model.classes is not None and model.classes.names == tuple(extra["class_names"])
    same_noise = [torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)]
    samples = model.generate(2, class_ids=torch.tensor([3, 7]), generator=same_noise)
    assert samples.images.shape == (2, 3, 16, 16)
    assert not torch.equal(samples.tokens[0], samples.tokens[1])  # same noise, other class: another image


def test_inpainting_rows_train_with_the_null_class_as_inpainting_decodes(setup, monkeypatch):
    data = labelled_data(setup, monkeypatch)
    mix = "mask_mix={uniform: 0.3, strokes: 0.7}"
    trainer = TransformerTrainer(
        load_train_config(TransformerTrainConfig, None, [*overrides(setup, data=data, class_conditional=True), mix]),
        progress=False,
    )
    order = trainer.epoch_order(0)
    sample = trainer._batch(order, 0)
    batch = trainer._masked(sample.tokens, trainer._batch(order, 0).generator, sample.images)
    assert batch.holes is not None and batch.holes.any() and not batch.holes.all()
    seen = []
    forward = trainer.network.forward
    monkeypatch.setattr(trainer.network, "forward", lambda *a, **k: seen.append(a[1].clone()) or forward(*a, **k))
    trainer.train_step(order)
    null = trainer.model.config.null_class_id
    assert torch.all(seen[0][batch.holes] == null)  # a hole row never sees its class
    uniform = seen[0][~batch.holes]  # the generation rows keep theirs (the null class only where dropped)
    assert torch.all((uniform == sample.classes[~batch.holes]) | (uniform == null)) and (uniform != null).any()


def test_a_run_can_start_from_another_runs_transformer_and_export_half_precision(setup):
    train(setup, out="first", epochs=1)
    first = setup / "first" / "model.safetensors"
    config = load_train_config(
        TransformerTrainConfig, None, overrides(setup, out="second", init_from=first, epochs=1, export_dtype="fp16")
    )
    trainer = TransformerTrainer(config, progress=False)
    start = MaskGIT.load(first).transformer.state_dict()
    assert all(torch.equal(v, start[k]) for k, v in trainer.model.state_dict().items())
    trainer.fit()
    second = setup / "second" / "model.safetensors"
    assert second.stat().st_size < 0.6 * first.stat().st_size  # fp16 halves the weights
    trained = MaskGIT.load(second).transformer.state_dict()
    assert not torch.equal(trained["token_embedding.weight"], start["token_embedding.weight"])  # it trained on
    with pytest.raises(TrainingError, match="another architecture"):
        TransformerTrainer(
            load_train_config(
                TransformerTrainConfig, None, overrides(setup, out="third", init_from=first, **{"model.dim": 64})
            ),
            progress=False,
        )


def test_a_continued_run_with_its_parents_seed_draws_other_batches_and_a_paired_run_the_same(setup):
    parent = train(setup, out="first", epochs=1)
    start = setup / "first" / "model.safetensors"

    def continued(out: str, **extra) -> TransformerTrainer:
        config = load_train_config(TransformerTrainConfig, None, overrides(setup, out=out, init_from=start, **extra))
        return TransformerTrainer(config, progress=False)

    child, twin, other = continued("child"), continued("twin"), continued("other", seed=1)
    assert child.config.seed == parent.config.seed == parent.data_seed == 0
    assert child.data_seed != parent.data_seed
    assert not torch.equal(child.epoch_order(0), parent.epoch_order(0))  # other epoch orders, and other masks:
    parent.step = child.step = 0
    order = torch.arange(51)
    assert parent.micro_batch(order, 0)[1].initial_seed() != child.micro_batch(order, 0)[1].initial_seed()
    assert twin.data_seed == child.data_seed  # the same start and seed: the same stream, so an A/B stays paired
    assert other.data_seed not in (child.data_seed, parent.data_seed)


def test_a_checkpoint_from_before_data_seeds_resumes_with_the_seed_it_trained_with(setup):
    train(setup, out="first", epochs=1)
    start = setup / "first" / "model.safetensors"
    train(setup, out="old", epochs=1, init_from=start)
    latest = max((setup / "old" / "checkpoints").glob("step_*.pt"))
    state = torch.load(latest, weights_only=False)
    del state["data_seed"]  # as the trainer wrote them before the data seed existed: the config's seed drew
    torch.save(state, latest)
    assert train(setup, out="old", epochs=2, init_from=start, resume=True).data_seed == 0


def test_a_run_can_grow_another_runs_transformer_deeper_starting_from_the_same_function(setup):
    train(setup, out="first", epochs=1)
    first = setup / "first" / "model.safetensors"
    config = load_train_config(
        TransformerTrainConfig, None, overrides(setup, out="deeper", init_from=first, epochs=1, **{"model.depth": 4})
    )
    trainer = TransformerTrainer(config, progress=False)
    shallow = MaskGIT.load(first).transformer.eval()
    deep = trainer.model.eval()
    assert len(deep.blocks) == 4 and len(shallow.blocks) == 2
    tokens = torch.randint(
        0, shallow.config.mask_token_id + 1, (3, shallow.config.num_tokens), generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        assert torch.allclose(deep(tokens), shallow(tokens), atol=1e-5)  # the new blocks pass their input through
    assert deep.blocks[0].attention.qkv_proj.weight.equal(shallow.blocks[0].attention.qkv_proj.weight)
    assert deep.blocks[3].attention.out_proj.weight.abs().sum() == 0 and deep.blocks[3].mlp[2].weight.abs().sum() == 0
    trainer.fit()  # and the new blocks learn: their zeroed outputs move
    grown = MaskGIT.load(setup / "deeper" / "model.safetensors").transformer
    assert grown.blocks[3].attention.out_proj.weight.abs().sum() > 0 and grown.blocks[3].mlp[2].weight.abs().sum() > 0
    with pytest.raises(TrainingError, match="never shrink"):
        TransformerTrainer(
            load_train_config(
                TransformerTrainConfig,
                None,
                overrides(
                    setup, out="shallower", init_from=setup / "deeper" / "model.safetensors", **{"model.depth": 3}
                ),
            ),
            progress=False,
        )


def test_validation_scores_the_same_masks_whatever_the_training_batch_size(setup):
    mix = "mask_mix={uniform: 0.5, strokes: 0.5}"  # both kinds of rows: uniform masks and filled holes
    scores = [
        TransformerTrainer(
            load_train_config(TransformerTrainConfig, None, [*overrides(setup, out=f"b{size}", batch_size=size), mix]),
            progress=False,
        ).validate()
        for size in (1, 2)  # the val split holds 3 images: 3 batches, 2, or 1
    ]
    assert scores[0] == scores[1]


def test_subcategory_classes_are_for_emoji_data_and_keep_their_own_token_cache(setup):
    from maskgit.errors import ConfigError, DataError
    from maskgit.training.token_cache import cache_path

    with pytest.raises(ConfigError, match="class_labels must be category or subcategory"):
        load_train_config(TransformerTrainConfig, None, overrides(setup, class_labels="finest"))
    with pytest.raises(DataError, match="only emoji data has subcategories"):
        train(setup, class_conditional=True, class_labels="subcategory")
    assert cache_path("emoji", "train", "h", True, "subcategory") != cache_path("emoji", "train", "h", True)


def test_the_token_cache_is_keyed_by_the_tokenizers_encode_path_not_by_its_file_or_decoder(setup):
    train(setup, epochs=1)
    caches = sorted((setup / "home" / "tokens").iterdir())
    assert len(caches) == 2  # train and val
    # the run's model file holds the same tokenizer next to a transformer: a run on it reuses the cache
    train(setup, out="again", epochs=1, tokenizer=str(setup / "run" / "model.safetensors"))
    assert sorted((setup / "home" / "tokens").iterdir()) == caches
    # a new decoder (train_decoder_only) draws the same ids differently: the same cache
    redrawn = MaskGIT.load(setup / "run" / "model.safetensors")
    with torch.no_grad():
        for part in (redrawn.tokenizer.decoder, redrawn.tokenizer.post_quant_conv):
            for weight in part.parameters():
                weight.mul_(0.5)
    redrawn.save(setup / "redrawn.safetensors")
    train(setup, out="redrawn", epochs=1, tokenizer=str(setup / "redrawn.safetensors"))
    assert sorted((setup / "home" / "tokens").iterdir()) == caches
    # other weights, other tokens
    other = MaskGIT.load(setup / "run" / "model.safetensors")
    with torch.no_grad():
        other.tokenizer.quantizer.codebook.weight.mul_(-1)
    other.save(setup / "other.safetensors")
    train(setup, out="other", epochs=1, tokenizer=str(setup / "other.safetensors"))
    assert len(list((setup / "home" / "tokens").iterdir())) == 4


def clock_of_the_work(monkeypatch, step_seconds, validation_seconds: float = 3.0) -> None:
    """A clock that moves only with the work: step_seconds(n) for training step n (from 1), fixed for a validation."""
    clock = [0.0]
    monkeypatch.setattr(loop, "time", type("Clock", (), {"perf_counter": staticmethod(lambda: clock[0])}))
    train_step, validate = TransformerTrainer.train_step, TransformerTrainer.validate

    def timed_step(self, *args):
        clock[0] += step_seconds(self.step + 1)
        return train_step(self, *args)

    def timed_validation(self, *args):
        clock[0] += validation_seconds
        return validate(self, *args)

    monkeypatch.setattr(TransformerTrainer, "train_step", timed_step)
    monkeypatch.setattr(TransformerTrainer, "validate", timed_validation)


def test_a_time_budget_is_measured_again_after_an_epoch_with_validation_in_it(setup, monkeypatch):
    clock_of_the_work(monkeypatch, step_seconds=lambda n: 1.0, validation_seconds=3.0)
    # 6 steps an epoch, 20 epochs: 120 steps. The probe (steps 5-25: 20 s of steps, validations at 6 .. 24) sizes a
    # minute as 60 / 1.6 = 38 steps; at the end of the epoch at step 30, 30 s of steps and 5 x 3 s of validation give
    # 1.5 s a step: 40 steps in the minute.
    trainer = train(setup, epochs=20, minutes=1.0, warmup_steps=0, checkpoint_every=5)
    assert trainer.budget_steps == trainer.total_steps == trainer.step == 40 and trainer.budget_final
    assert trainer.scheduler.lr_lambdas[0](40) == pytest.approx(trainer.config.min_lr_ratio)  # the cosine ends with it
    records = [json.loads(line) for line in (setup / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "val/loss" in r] == [6, 12, 18, 24, 30, 36, 40]
    # the measured size is kept: a resumed run neither probes nor measures again
    resumed = train(setup, epochs=20, minutes=1.0, warmup_steps=0, checkpoint_every=5, resume=True)
    assert resumed.total_steps == resumed.step == 40 and resumed.budget_final


def test_a_spell_of_other_work_on_the_machine_does_not_shorten_a_time_budget(setup, monkeypatch):
    # Steps 26-29 run 6 times slower (another job shares the cores), then the machine is free again. Timed as a whole,
    # the epoch ending at step 30 would cost 65 s / 30 steps and leave the minute no steps beyond it; the median step
    # (1 s) plus the validations shared out (15 s / 30) sizes it as the free machine runs: 40 steps, as above.
    clock_of_the_work(monkeypatch, step_seconds=lambda n: 6.0 if 26 <= n <= 29 else 1.0, validation_seconds=3.0)
    trainer = train(setup, epochs=20, minutes=1.0, warmup_steps=0, checkpoint_every=5)
    assert trainer.budget_steps == trainer.total_steps == trainer.step == 40 and trainer.budget_final


def test_a_time_budget_sizes_the_run_from_its_first_steps_and_resumes_at_the_same_length(setup):
    # 6 steps an epoch, 10 epochs: 60 steps, unless a budget says fewer
    probe_end = PROBE[1]
    trainer = train(setup, epochs=10, minutes=1e-6, warmup_steps=0, checkpoint_every=5)
    assert trainer.budget_steps == probe_end == trainer.step == trainer.total_steps  # sized after the probe
    schedule = trainer.scheduler.lr_lambdas[0]
    assert schedule(probe_end) == pytest.approx(trainer.config.min_lr_ratio)  # the cosine now ends with the run
    records = [json.loads(line) for line in (setup / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "val/loss" in r] == [6, 12, 18, 24, 25]  # the last weights compete for best
    resumed = train(setup, epochs=10, minutes=1e-6, warmup_steps=0, checkpoint_every=5, resume=True)
    assert resumed.total_steps == probe_end and resumed.step == probe_end  # the saved size, not a new probe
    sized = TransformerTrainer(
        load_train_config(TransformerTrainConfig, None, overrides(setup, out="b", epochs=10, minutes=1.0)),
        progress=False,
    )
    sized.fit_budget(seconds_per_step=2.0)  # 60 s / 2 s: 30 of the 60 steps
    assert sized.total_steps == 30 and sized.scheduler.lr_lambdas[0](30) == pytest.approx(0.1)
