"""The faster training step computes what the plain one does (issue 20).

Each speed-up is checked against the straightforward computation it replaces: the sparse dropout sampler against
Bernoulli masks, the output head at masked positions against the full head, one backward through the loss
networks against backpropagating the summed loss, fused AdamW and the foreach EMA against their plain forms;
then a short run in bf16 against the same run in fp32 (BF16_LOSS_TOLERANCE).
"""

import json
import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from maskgit.config import replace_config
from maskgit.masking.mvtm import mask_tokens, mvtm_loss
from maskgit.training.config import TokenizerTrainConfig, TransformerTrainConfig, load_train_config
from maskgit.training.losses import adaptive_gan_weight, hinge_generator_loss
from maskgit.training.optim import ModelEMA
from maskgit.training.tokenizer_trainer import TokenizerTrainer
from maskgit.training.transformer_trainer import TransformerTrainer
from maskgit.transformer.config import TransformerConfig
from maskgit.transformer.dropout import Dropout, dropout, dropped_positions
from maskgit.transformer.model import BidirectionalTransformer

# A short run under bf16 autocast stays this close to the same run in fp32 (relative, per logged loss); the
# README and docs/benchmarks.md state it.
BF16_LOSS_TOLERANCE = 0.02

# -- dropout ---------------------------------------------------------------------------------------------------


def test_dropped_positions_are_bernoulli_trials():
    n, p = 400_000, 0.1
    torch.manual_seed(0)
    positions = dropped_positions(n, p)
    assert positions.dtype == torch.int64
    assert bool((positions[1:] > positions[:-1]).all()) and int(positions[0]) >= 0 and int(positions[-1]) < n
    sd = math.sqrt(n * p * (1 - p))
    assert abs(len(positions) - n * p) < 5 * sd  # the count is Binomial(n, p)
    dropped = torch.zeros(n, dtype=torch.bool)
    dropped[positions] = True
    both = (dropped[1:] & dropped[:-1]).float().mean().item()  # neighbours independent: p^2
    assert both == pytest.approx(p * p, abs=5 * math.sqrt(p * p / n))
    halves = dropped.view(2, -1).float().mean(1)  # no drift along the tensor
    assert abs(halves[0] - halves[1]) < 0.005


def test_dropped_positions_stay_exact_integers_past_float32s_range():
    n, p = 2**24 + 200_000, 0.01  # beyond 2**24 a float32 running sum would round positions to even numbers
    torch.manual_seed(0)
    positions = dropped_positions(n, p)
    assert bool((positions[1:] > positions[:-1]).all()) and int(positions[-1]) < n
    high = positions[positions > 2**24]
    assert len(high) > 1000 and {0, 1} <= set((high % 2).tolist())  # odd positions up there too


def test_dropped_positions_edge_cases():
    assert len(dropped_positions(100, 0.0)) == 0 and len(dropped_positions(0, 0.5)) == 0
    assert dropped_positions(5, 1.0).tolist() == [0, 1, 2, 3, 4]
    torch.manual_seed(3)
    first = dropped_positions(1000, 0.3)
    torch.manual_seed(3)
    assert torch.equal(first, dropped_positions(1000, 0.3))  # the global generator decides: resumable


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_dropout_zeroes_and_scales_like_torch(dtype):
    x = torch.randn(64, 100, dtype=dtype, requires_grad=True)
    out = dropout(x, 0.25)
    kept = out != 0
    assert 0.15 < 1 - kept.float().mean().item() < 0.35
    expected = (x.detach().float() * (1 / 0.75)).to(dtype)  # the scale is exact, not a rounded bf16 1/0.75
    assert torch.equal(out[kept], expected[kept])
    out.backward(torch.ones_like(out))
    assert torch.equal(x.grad, torch.where(kept, torch.tensor(1 / 0.75).to(dtype), torch.tensor(0.0, dtype=dtype)))
    assert dropout(x, 0.25, training=False) is x and dropout(x, 0.0) is x


def test_the_dropout_module_is_nn_dropout_with_another_sampler():
    module = Dropout(0.1)
    assert isinstance(module, nn.Dropout) and module.state_dict() == {} and repr(module) == repr(nn.Dropout(0.1))
    x = torch.randn(4, 8)
    assert torch.equal(module.eval()(x), x)


# -- stage 2 ---------------------------------------------------------------------------------------------------


def gradients(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("dropout_rate", [0.0, 0.1])
def test_the_head_at_masked_positions_gives_the_full_heads_loss_and_gradients(dropout_rate):
    config = replace_config(TransformerConfig.preset("tiny"), dropout=dropout_rate, attn_dropout=dropout_rate)
    torch.manual_seed(0)
    model = BidirectionalTransformer(config).train()
    tokens = torch.randint(0, config.codebook_size, (8, config.num_tokens))
    batch = mask_tokens(tokens, config.mask_token_id, generator=torch.Generator().manual_seed(1))
    results = []
    for at in (None, batch.token_mask):  # the plain step, then the faster one: same dropout draws
        torch.manual_seed(7)
        model.zero_grad()
        logits = model(batch.inputs, at=at)
        loss = mvtm_loss(logits, batch.targets, batch.token_mask, loss_on="masked", label_smoothing=0.1)
        loss.backward()
        results.append((loss.item(), gradients(model)))
    (plain_loss, plain), (fast_loss, fast) = results
    assert fast_loss == pytest.approx(plain_loss, rel=1e-6)
    assert plain.keys() == fast.keys()
    for name in plain:
        torch.testing.assert_close(fast[name], plain[name], rtol=1e-5, atol=1e-7, msg=name)
    with pytest.raises(Exception, match="masked tokens only"):
        mvtm_loss(logits, batch.targets, batch.token_mask, loss_on="all")


@pytest.mark.parametrize("label_smoothing, share", [(0.0, 0.0), (0.1, 0.0), (0.1, 0.3), (0.0, 1.0)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_closed_form_cross_entropy_gives_autograds_loss_and_gradient(label_smoothing, share, dtype):
    from maskgit.masking.mvtm import codebook_neighbours, soft_target_cross_entropy

    rows, codes, classes = 37, 12, 13  # a 13th (mask) class column, as the lab's head has
    generator = torch.Generator().manual_seed(0)
    logits = (torch.randn(rows, classes, generator=generator) * 3).to(dtype)
    ids = torch.randint(0, codes, (rows,), generator=generator)
    row_weights = torch.rand(rows, generator=generator)  # whatever reduction follows
    neighbours = codebook_neighbours(torch.randn(codes, 4, generator=generator), output_classes=classes)

    def plain(x: torch.Tensor) -> torch.Tensor:  # what mvtm_loss computed before: autograd through the formulas
        x = x.float()
        loss = F.cross_entropy(x, ids, reduction="none", label_smoothing=label_smoothing)
        soft = -(neighbours[ids] * x.log_softmax(dim=-1)).sum(dim=-1)
        return (1 - share) * loss + share * soft

    results = []
    for loss_fn in (plain, lambda x: soft_target_cross_entropy(x, ids, label_smoothing, neighbours, share)):
        x = logits.clone().requires_grad_()
        loss = loss_fn(x)
        (loss * row_weights).sum().backward()
        results.append((loss.detach(), x.grad))
    (plain_loss, plain_grad), (fast_loss, fast_grad) = results
    assert fast_loss.dtype == torch.float32 and fast_grad.dtype == dtype
    torch.testing.assert_close(fast_loss, plain_loss, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(fast_grad, plain_grad, rtol=1e-5, atol=1e-7)


def test_fused_adamw_and_the_foreach_ema_update_as_the_plain_ones():
    torch.manual_seed(0)
    plain_model = nn.Sequential(nn.Linear(6, 5), nn.LayerNorm(5), nn.Linear(5, 3))
    fused_model = nn.Sequential(nn.Linear(6, 5), nn.LayerNorm(5), nn.Linear(5, 3))
    fused_model.load_state_dict(plain_model.state_dict())
    plain = torch.optim.AdamW(plain_model.parameters(), lr=0.01, foreach=False)
    fused = torch.optim.AdamW(fused_model.parameters(), lr=0.01, fused=True)
    ema = ModelEMA(fused_model, 0.9)
    ema_plain = {k: v.clone() for k, v in fused_model.state_dict().items()}
    for step in range(3):
        x = torch.randn(4, 6, generator=torch.Generator().manual_seed(step))
        for model, optimizer in ((plain_model, plain), (fused_model, fused)):
            optimizer.zero_grad()
            model(x).square().sum().backward()
            optimizer.step()
        ema.update(fused_model, step)
        rate = 1 - min(0.9, (1 + step) / (10 + step))  # the decay warms up: 1/10, 2/11, 3/12, ... then 0.9
        for key, live in fused_model.state_dict().items():
            ema_plain[key] = ema_plain[key] + rate * (live - ema_plain[key])
    for (name, a), b in zip(plain_model.state_dict().items(), fused_model.state_dict().values(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7, msg=name)
    for key, value in ema.model.state_dict().items():
        torch.testing.assert_close(value, ema_plain[key], rtol=1e-6, atol=1e-7, msg=key)


def test_the_ema_of_a_short_run_holds_almost_nothing_of_the_start():
    model = nn.Linear(3, 3)
    nn.init.zeros_(model.weight)
    ema = ModelEMA(model, 0.999)
    nn.init.ones_(model.weight)  # training moved the weights; the average must follow within a short run
    for step in range(100):
        ema.update(model, step)
    assert ema.decay_at(0) == pytest.approx(0.1) and ema.decay_at(10**6) == 0.999
    assert ema.model.weight.min() > 0.99  # a fixed 0.999 would sit at 1 - 0.999**100 = 0.095


# -- stage 1 ---------------------------------------------------------------------------------------------------


def tokenizer_trainer(root, **extra) -> TokenizerTrainer:
    values = {
        "data": f"folder:{root / 'images'}",
        "preset": "tiny",
        "out_dir": str(root / "tok"),
        "batch_size": 8,
        "gan_start_step": 0,
        "discriminator_channels": 8,
        "precision": "fp32",
        "sample_images": 0,
        **extra,
    }
    config = load_train_config(TokenizerTrainConfig, None, [f"{k}={v}" for k, v in values.items()])
    return TokenizerTrainer(config, progress=False)


def test_one_backward_through_the_loss_networks_gives_the_summed_losss_gradients(setup):
    trainer = tokenizer_trainer(setup)
    c, model = trainer.config, trainer.model.eval()  # eval: the codebook stays put between the two forwards
    images = trainer.train_images.tensors(slice(0, 8))

    out = model(images)  # the plain step: the summed loss, backpropagated
    rec = out.reconstruction
    nll = (images - rec).abs().mean() + c.perceptual_weight * trainer.perceptual(images, rec)
    generator_loss = hinge_generator_loss(trainer.discriminator(rec))
    last = model.decoder.layers[-1].weight
    weight = adaptive_gan_weight(*(torch.autograd.grad(x, last, retain_graph=True)[0] for x in (nll, generator_loss)))
    loss = nll + c.gan_weight * weight * generator_loss + out.quantizer_loss
    loss.backward()
    plain = gradients(model)

    model.zero_grad()
    trainer.discriminator.zero_grad(set_to_none=True)
    out = model(images)  # the faster step's way
    terms, rec_grad = trainer._reconstruction_losses(images, out.reconstruction, gan_on=True)
    torch.autograd.backward([out.reconstruction, out.quantizer_loss], [rec_grad, torch.ones(())])
    fast = gradients(model)

    assert terms["gan_weight"].item() == pytest.approx(weight.item(), rel=1e-5)
    total = terms["nll"] + terms["gan"] + out.quantizer_loss
    assert total.item() == pytest.approx(loss.item(), rel=1e-6)
    assert plain.keys() == fast.keys() and len(plain) > 10
    for name in plain:
        torch.testing.assert_close(fast[name], plain[name], rtol=1e-4, atol=1e-7, msg=name)
    assert all(p.grad is None for p in trainer.discriminator.parameters())  # the generator pass leaves D alone


def test_the_images_layout_follows_the_precision(setup):
    fp32 = tokenizer_trainer(setup, out_dir=str(setup / "a"))
    images = fp32._images(fp32.epoch_order(0), 0)
    assert images.is_contiguous(memory_format=torch.channels_last)
    bf16 = tokenizer_trainer(setup, out_dir=str(setup / "b"), precision="bf16")
    assert bf16._images(bf16.epoch_order(0), 0).is_contiguous()


# -- bf16 against fp32 -----------------------------------------------------------------------------------------


def logged_losses(run) -> list[float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["train/loss"] for r in records if "train/loss" in r]


@pytest.mark.parametrize("stage", ["transformer", "tokenizer"])
def test_a_short_bf16_run_tracks_the_fp32_run(setup, stage):
    losses = {}
    for precision in ("fp32", "bf16"):
        values = {
            "data": f"folder:{setup / 'images'}",
            "preset": "tiny",
            "out_dir": str(setup / f"{stage}-{precision}"),
            "epochs": 1,
            "batch_size": 8,
            "log_every": 1,
            "sample_images": 0,
            "precision": precision,
        }
        if stage == "transformer":
            values |= {"tokenizer": str(setup / "tokenizer.safetensors"), "model.dropout": 0.1, "loss_on": "masked"}
            config = load_train_config(TransformerTrainConfig, None, [f"{k}={v}" for k, v in values.items()])
            trainer = TransformerTrainer(config, progress=False)
        else:
            values |= {"gan_start_step": 2, "discriminator_channels": 8}
            config = load_train_config(TokenizerTrainConfig, None, [f"{k}={v}" for k, v in values.items()])
            trainer = TokenizerTrainer(config, progress=False)
        trainer.fit()
        losses[precision] = logged_losses(setup / f"{stage}-{precision}")
    assert len(losses["fp32"]) == 6
    for fp32, bf16 in zip(losses["fp32"], losses["bf16"], strict=True):
        assert bf16 == pytest.approx(fp32, rel=BF16_LOSS_TOLERANCE)


def test_the_attention_dropout_path_matches_the_reference_math_without_dropout():
    torch.manual_seed(0)
    config = replace_config(TransformerConfig.preset("tiny"), attn_dropout=0.1)
    model = BidirectionalTransformer(config).eval()
    tokens = torch.randint(0, config.codebook_size, (3, config.num_tokens))
    fused = model(tokens)
    model.set_fused_attention(False)
    torch.testing.assert_close(model(tokens), fused, rtol=1e-5, atol=1e-5)
    model.train()
    torch.manual_seed(1)
    first = model(tokens)
    torch.manual_seed(1)
    assert torch.equal(model(tokens), first)  # training noise comes from the seeded global generator
    assert not torch.allclose(first, fused)


# -- memory ----------------------------------------------------------------------------------------------------

FRESH_PAGES_SCRIPT = """
import resource, torch
from maskgit.training.runtime import start_runtime
start_runtime("cpu")
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
counts = []
for _ in range(3):  # a step's temporaries, smallest to largest, allocated, written and freed every step
    before = faults()
    for mb in (3, 5, 9, 17, 25):
        x = torch.empty(mb << 18)
        x.fill_(1.0)
        del x
    counts.append(faults() - before)
print(counts)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_cpu_training_process_reuses_the_pages_of_freed_temporaries():
    done = subprocess.run([sys.executable, "-c", FRESH_PAGES_SCRIPT], capture_output=True, text=True, check=True)
    first, *later = json.loads(done.stdout.strip().splitlines()[-1])
    assert first > 1000  # the first step maps its pages (7,000-15,000 of 4 kB)...
    # ...and later steps mostly reuse them: 0-6,400 faults in the next two together, where glibc's defaults
    # fault about 14,000 + 6,400 (its dynamic threshold catches up with the sizes only by the fourth step)
    assert sum(later) < first
