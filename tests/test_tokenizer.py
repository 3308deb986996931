import pytest
import torch

from maskgit import VQGAN, ConfigError, InputError, TokenizerConfig
from maskgit.tokenizer import TOKENIZER_PRESETS, VectorQuantizer


@pytest.mark.parametrize("name", list(TOKENIZER_PRESETS))
def test_every_preset_maps_images_to_its_token_grid_and_back(name):
    config = TokenizerConfig.preset(name)
    c, r, g = config.image_channels, config.resolution, config.grid_size
    if name == "lab":  # 69 M parameters: shapes only, on the meta device
        with torch.device("meta"):
            model = VQGAN(config)
            latents = model.encode_latents(torch.zeros(2, c, r, r))
            images = model.decode_latents(torch.zeros(2, config.latent_dim, g, g))
        assert latents.shape == (2, config.latent_dim, g, g)
        assert images.shape == (2, c, r, r)
        return
    model = VQGAN(config).eval()
    images = torch.rand(2, c, r, r) * 2 - 1
    tokens = model.encode(images)
    assert tokens.shape == (2, g, g) and tokens.dtype == torch.int64
    assert int(tokens.min()) >= 0 and int(tokens.max()) < config.codebook_size
    assert model.decode(tokens).shape == (2, c, r, r)


def test_lab_preset_is_the_seeds_vqgan():
    config = TokenizerConfig.preset("lab")
    assert (config.resolution, config.grid_size, config.latent_dim, config.codebook_size) == (64, 16, 256, 1024)
    assert config.encoder_channels == (128, 128, 128, 256, 256, 512) and config.encoder_res_blocks == 2
    assert config.decoder_channels == (512, 256, 256, 128, 128) and config.decoder_res_blocks == 3
    assert config.attn_resolutions == (16,) and config.beta == 0.25


def test_an_unknown_preset_lists_the_valid_names():
    with pytest.raises(ConfigError, match=r"unknown tokenizer preset 'huge'.*lab, emoji, grey32, tiny"):
        TokenizerConfig.preset("huge")


def test_inconsistent_sizes_are_config_errors():
    with pytest.raises(ConfigError, match="same length"):
        TokenizerConfig(downsample_after=(1,), upsample_after=(1, 3))
    with pytest.raises(ConfigError, match="divisible"):
        TokenizerConfig(resolution=66)


def test_quantizer_picks_the_nearest_code():
    quantizer = VectorQuantizer(codebook_size=16, dim=4)
    latents = torch.randn(50, 4)
    brute = torch.cdist(latents, quantizer.codebook.weight).argmin(1)
    assert torch.equal(quantizer.nearest_codes(latents), brute)


def test_quantizer_passes_gradients_straight_through_and_trains_the_codebook():
    quantizer = VectorQuantizer(codebook_size=8, dim=4).train()
    latents = torch.randn(2, 4, 3, 3, requires_grad=True)
    out = quantizer(latents)
    assert torch.allclose(out.quantized, quantizer.lookup(out.tokens), atol=1e-6)  # forward value: the codes
    (out.quantized.sum() + out.loss).backward()
    assert latents.grad is not None and torch.all(latents.grad != 0)  # straight-through (+ commitment)
    assert quantizer.codebook.weight.grad is not None  # the codebook loss reaches the codes
    assert 1.0 <= out.perplexity.item() <= 8.0


def test_ema_codebook_moves_codes_to_the_mean_of_their_latents():
    torch.manual_seed(0)
    quantizer = VectorQuantizer(codebook_size=4, dim=2, ema=True, ema_decay=0.5).train()
    assert not quantizer.codebook.weight.requires_grad
    latents = torch.full((1, 2, 4, 4), 3.0)  # every latent at (3, 3): all go to one code
    for _ in range(30):
        out = quantizer(latents)
    code = quantizer.codebook.weight[out.tokens.flatten()[0]]
    assert torch.allclose(code, torch.tensor([3.0, 3.0]), atol=1e-2)


def test_dead_codes_are_restarted_on_encoder_outputs():
    quantizer = VectorQuantizer(codebook_size=8, dim=2, ema_decay=0.9).train()  # usage decays by 0.9 a batch
    with torch.no_grad():
        quantizer.codebook.weight.copy_(torch.arange(16.0).view(8, 2) * 100)
    latents = torch.zeros(1, 2, 4, 4)  # every latent picks code 0; codes 1..7 go unused
    for _ in range(100):
        quantizer(latents)
    restarted = quantizer.restart_dead_codes(latents, threshold=0.03)
    assert restarted == 7
    assert quantizer.codebook.weight[1:].abs().max() < 0.1  # moved next to the latents at 0
    spread = quantizer.codebook.weight.detach().clone().T.reshape(1, 2, 2, 4)  # one latent on each code
    for _ in range(30):
        quantizer(spread)
    assert quantizer.restart_dead_codes(spread) == 0  # every code is chosen now: none is dead


def test_unused_codes_are_dead_from_the_first_check():
    quantizer = VectorQuantizer(codebook_size=8, dim=2).train()
    quantizer(torch.zeros(1, 2, 2, 2))  # one batch, which chooses a single code
    assert quantizer.restart_dead_codes(torch.zeros(4, 2)) == 7


def test_wrong_images_are_input_errors():
    model = VQGAN(TokenizerConfig.preset("tiny"))
    with pytest.raises(InputError, match=r"\(B, 3, 16, 16\)"):
        model.encode(torch.zeros(1, 3, 32, 32))
    with pytest.raises(InputError, match="token ids must lie in"):
        model.decode(torch.full((1, 4, 4), 32))


def test_reconstruction_metrics_match_a_known_error_and_codebook_use(monkeypatch):
    from maskgit.tokenizer.metrics import reconstruction_metrics

    tokenizer = VQGAN(TokenizerConfig.preset("tiny")).eval()
    images = torch.zeros(6, 3, 16, 16)
    tokens = torch.zeros(6, 4, 4, dtype=torch.int64)
    tokens[:3] = 1  # half the images use code 0, half code 1
    # every reconstruction off by 0.2 on the [-1, 1] scale = 0.1 on [0, 1]: L1 0.1, PSNR 20 dB
    batches = iter([tokens[:4], tokens[4:]])
    monkeypatch.setattr(tokenizer, "reconstruct", lambda x, micro_batch=None: (x + 0.2, next(batches)))
    metrics = reconstruction_metrics(tokenizer, images, batch_size=4)
    assert metrics["l1"] == pytest.approx(0.1)
    assert metrics["psnr"] == pytest.approx(20.0, abs=1e-4)
    assert metrics["code_usage"] == 2 / tokenizer.config.codebook_size
    assert metrics["perplexity"] == pytest.approx(2.0)  # two codes, equally often
