"""`maskgit import-lab`: the lab's checkpoints, saved the way its code saves them, load into the `lab`
presets and compute the same tokens, logits and images (tests/lab_template.py rebuilds the lab's code)."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from maskgit import MaskGIT, TokenizerConfig, TransformerConfig
from maskgit.checkpoint import check_fit, load_checkpoint
from maskgit.cli import main
from maskgit.convert.lab import import_lab, tokenizer_config_from_lab, tokenizer_state, transformer_state
from maskgit.data.masks import make_masks, write_masks
from maskgit.errors import CheckpointError
from maskgit.tokenizer.vqgan import VQGAN
from maskgit.transformer.model import BidirectionalTransformer
from tests.conftest import untouched
from tests.lab_template import (
    LAB_MASKGIT_YAML,
    LAB_VQGAN_YAML,
    MEAN,
    STD,
    FusedAttention,
    LabTransformer,
    LabVQGAN,
    SeparateAttention,
    randomize,
)

SMALL = {"enc": "32, 32, 32, 32, 32, 64", "dec": "32, 32, 32, 32, 64", "latent": 16, "codes": 64}
SMALL_T = {"codes": 64, "dim": 32, "layers": 2, "hidden": 64}  # 16 heads, as the lab's attention has


def lab_config(text):
    import yaml

    return yaml.safe_load(text)["model_param"]


@pytest.fixture
def lab_files(tmp_path):
    """A small lab VQGAN and transformer with random weights, saved as the lab saves them (bare state dicts)
    next to their YAML configs."""
    vq_cfg = lab_config(LAB_VQGAN_YAML.format(**SMALL))
    vqgan = randomize(LabVQGAN(vq_cfg), seed=1)
    t_cfg = lab_config(LAB_MASKGIT_YAML.format(**SMALL_T))["Transformer_param"]
    transformer = randomize(LabTransformer(t_cfg, lambda: SeparateAttention(32, 16)), seed=2)
    (tmp_path / "VQGAN.yml").write_text(LAB_VQGAN_YAML.format(**SMALL))
    (tmp_path / "MaskGit.yml").write_text(LAB_MASKGIT_YAML.format(**SMALL_T))
    torch.save(vqgan.state_dict(), tmp_path / "VQGAN.pt")
    torch.save(transformer.state_dict(), tmp_path / "epoch_50.pt")
    return tmp_path, vqgan, transformer


def lab_inputs(images):
    """maskgit's [-1, 1] images as the lab feeds them: 0..1, then Normalize(mean, std)."""
    return ((images + 1) / 2 - MEAN) / STD


def test_the_lab_preset_has_the_lab_templates_vqgan_and_transformer_exactly():
    """Built from the lab's own full-size configs (on the meta device: shapes only), every tensor of the
    lab's state dicts has a place of the same shape in the `lab` presets, and nothing is left over."""
    full = {"enc": "128, 128, 128, 256, 256, 512", "dec": "128, 128, 256, 256, 512", "latent": 256, "codes": 1024}
    with torch.device("meta"):
        lab_vqgan = LabVQGAN(lab_config(LAB_VQGAN_YAML.format(**full)))
        t_cfg = lab_config(LAB_MASKGIT_YAML.format(codes=1024, dim=768, layers=15, hidden=1536))["Transformer_param"]
        lab_transformer = LabTransformer(t_cfg, lambda: SeparateAttention(768, 16))
        ours_vqgan = VQGAN(TokenizerConfig.preset("lab"))
        ours_transformer = BidirectionalTransformer(TransformerConfig.preset("lab"))
    check_fit(ours_vqgan.state_dict(), tokenizer_state(lab_vqgan.state_dict()), "lab VQGAN")
    check_fit(ours_transformer.state_dict(), transformer_state(lab_transformer.state_dict(), 768), "lab transformer")
    assert sum(p.numel() for p in ours_vqgan.parameters()) == sum(p.numel() for p in lab_vqgan.parameters())


def test_the_vqgan_yaml_gives_the_lab_preset(tmp_path):
    full = {"enc": "128, 128, 128, 256, 256, 512", "dec": "128, 128, 256, 256, 512", "latent": 256, "codes": 1024}
    (tmp_path / "VQGAN.yml").write_text(LAB_VQGAN_YAML.format(**full))
    assert tokenizer_config_from_lab(tmp_path / "VQGAN.yml") == TokenizerConfig.preset("lab")


def test_an_imported_vqgan_gives_the_labs_tokens_and_images(lab_files):
    folder, lab_vqgan, _ = lab_files
    import_lab(folder / "vq.safetensors", vqgan=folder / "VQGAN.pt", vqgan_config=folder / "VQGAN.yml")
    loaded = load_checkpoint(folder / "vq.safetensors")
    assert loaded.models == ["tokenizer"]  # a tokenizer alone is a valid import
    tokenizer = loaded.tokenizer
    images = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        lab_tokens = lab_vqgan.encode(lab_inputs(images))  # (B, 256)
        tokens = tokenizer.encode(images)  # (B, 16, 16)
        assert len(lab_tokens.unique()) > 5  # a test of something: many codes in use
        assert torch.equal(tokens.flatten(1), lab_tokens)
        lab_images = (lab_vqgan.decode_ids(lab_tokens, 16) * STD + MEAN) * 2 - 1  # de-normalized as the lab saves
        torch.testing.assert_close(tokenizer.decode(tokens), lab_images, atol=1e-5, rtol=1e-5)


ATTENTIONS = {
    "q_linear/k_linear/v_linear/out_linear": lambda: SeparateAttention(32, 16),
    "query/key/value/output_layer": lambda: SeparateAttention(32, 16, ("query", "key", "value", "output_layer")),
    "qkv/proj": lambda: FusedAttention(32, 16),
    "to_qkv/proj, no bias": lambda: FusedAttention(32, 16, ("to_qkv", "proj"), bias=False),
    "W_q/W_k/W_v/W_o, no bias": lambda: SeparateAttention(32, 16, ("W_q", "W_k", "W_v", "W_o"), bias=False),
}
SAVED_AS = {
    "state dict": lambda sd, vq: sd,
    "training dict": lambda sd, vq: {
        "epoch": 7,
        "model": sd,
        "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4}]},
    },
    "model_state_dict": lambda sd, vq: {"epoch": 7, "model_state_dict": sd},
    "whole MaskGit": lambda sd, vq: {
        **{f"transformer.{k}": v for k, v in sd.items()},
        **{f"vqgan.{k}": v for k, v in vq.items()},
    },
}


@pytest.mark.parametrize("saved_as", list(SAVED_AS))
@pytest.mark.parametrize("attention", list(ATTENTIONS))
def test_an_imported_transformer_gives_the_labs_logits(lab_files, attention, saved_as):
    folder, lab_vqgan, _ = lab_files
    t_cfg = lab_config(LAB_MASKGIT_YAML.format(**SMALL_T))["Transformer_param"]
    lab_transformer = randomize(LabTransformer(t_cfg, ATTENTIONS[attention]), seed=3)
    torch.save(SAVED_AS[saved_as](lab_transformer.state_dict(), lab_vqgan.state_dict()), folder / "t.pt")
    out = folder / "lab.safetensors"
    _, _transformer = import_lab(
        out,
        vqgan=folder / "VQGAN.pt",
        vqgan_config=folder / "VQGAN.yml",
        transformer=folder / "t.pt",
        transformer_config=folder / "MaskGit.yml",
    )
    model = MaskGIT.load(out)
    tokens = torch.randint(0, 65, (2, 256), generator=torch.Generator().manual_seed(4))  # 64: the mask token
    with torch.no_grad():
        torch.testing.assert_close(model.transformer(tokens), lab_transformer(tokens), atol=1e-5, rtol=1e-5)
    assert model.transformer.config.output_classes == 65  # the lab predicts the mask class too


def test_pickles_that_run_code_are_refused_and_never_run(lab_files):
    folder = lab_files[0]
    marker = folder / "ran"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    torch.save({"model": Payload()}, folder / "evil.pt")
    with pytest.raises(CheckpointError, match="refused, nothing in it was run"):
        import_lab(folder / "x.safetensors", vqgan=folder / "evil.pt", vqgan_config=folder / "VQGAN.yml")
    assert not marker.exists() and not (folder / "x.safetensors").exists()


def test_missing_unexpected_and_misshapen_tensors_are_named(lab_files):
    folder, lab_vqgan, _ = lab_files
    state = dict(lab_vqgan.state_dict())
    del state["decoder.model.25.bias"]
    state["decoder.model.99.weight"] = torch.zeros(1)
    torch.save(state, folder / "broken.pt")
    with pytest.raises(
        CheckpointError, match=r"missing decoder\.layers\.25\.bias.*unexpected decoder\.layers\.99\.weight"
    ):
        import_lab(folder / "x.safetensors", vqgan=folder / "broken.pt", vqgan_config=folder / "VQGAN.yml")
    state = dict(lab_vqgan.state_dict())
    state["quant_conv.weight"] = torch.zeros(16, 16, 3, 3)
    torch.save(state, folder / "shape.pt")
    with pytest.raises(
        CheckpointError, match=r"quant_conv\.weight has shape \(16, 16, 3, 3\).*expects \(16, 16, 1, 1\)"
    ):
        import_lab(folder / "x.safetensors", vqgan=folder / "shape.pt", vqgan_config=folder / "VQGAN.yml")


def test_an_unknown_attention_layout_is_named(lab_files):
    folder, _, transformer = lab_files
    state = {k.replace("q_linear", "my_q"): v for k, v in transformer.state_dict().items()}
    torch.save(state, folder / "odd.pt")
    with pytest.raises(CheckpointError, match=r"blocks\.0\.attention: attention layers named .*my_q"):
        import_lab(
            folder / "x.safetensors",
            vqgan=folder / "VQGAN.pt",
            vqgan_config=folder / "VQGAN.yml",
            transformer=folder / "odd.pt",
            transformer_config=folder / "MaskGit.yml",
        )


def test_import_then_inpaint_the_lab_layout_then_score_it(lab_files, capsys, monkeypatch):
    """The lab's workflow end to end: import, inpaint its masked_image + mask64 into test_results/ named as
    the lab names them, score against test_gt.csv."""
    folder = lab_files[0]
    monkeypatch.setenv("MASKGIT_HOME", str(folder / "home"))
    out = folder / "imported.safetensors"
    args = ["import-lab", "--vqgan", str(folder / "VQGAN.pt"), "--vqgan-config", str(folder / "VQGAN.yml")]
    args += ["--transformer", str(folder / "epoch_50.pt"), "--transformer-config", str(folder / "MaskGit.yml")]
    assert main([*args, "--out", str(out)]) == 0
    assert "imported" in capsys.readouterr().out
    lab = folder / "lab"
    (lab / "cat_face" / "masked_image").mkdir(parents=True)
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    masks = make_masks("boxes", 3, 64, seed=2)
    for i in range(3):
        Image.fromarray(np.where(masks[i][..., None], 0, truth[i])).save(
            lab / "cat_face" / "masked_image" / f"image_{i:03d}.png"
        )
    write_masks(masks, lab / "mask64")
    header = ",".join(f"p{i}" for i in range(64 * 64 * 3))
    (lab / "test_gt.csv").write_text(header + "\n" + "\n".join(",".join(map(str, t.reshape(-1))) for t in truth))
    results = folder / "test_results"
    assert main(["inpaint", "--model", str(out), "--data", f"lab:{lab}", "--steps", "2", "--out", str(results)]) == 0
    assert sorted(p.name for p in results.glob("*.png")) == ["image_000.png", "image_001.png", "image_002.png"]
    inpainted = np.asarray(Image.open(results / "image_001.png"))
    far = untouched(masks[1])
    np.testing.assert_array_equal(inpainted[far], truth[1][far])  # known pixels beyond the blend's reach kept
    capsys.readouterr()
    assert main(["fid", str(results), str(lab / "test_gt.csv")]) == 0
    assert capsys.readouterr().out.startswith("FID ")


def test_import_errors_are_one_line_messages(lab_files, capsys):
    folder = lab_files[0]
    args = ["import-lab", "--vqgan", str(folder / "nothing.pt"), "--vqgan-config", str(folder / "VQGAN.yml")]
    assert main([*args, "--out", str(folder / "x.safetensors")]) != 0
    err = capsys.readouterr().err
    assert "no checkpoint at" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    args = ["import-lab", "--vqgan", str(folder / "VQGAN.pt"), "--vqgan-config", str(folder / "VQGAN.yml")]
    assert main([*args, "--transformer", str(folder / "epoch_50.pt"), "--out", str(folder / "x.safetensors")]) != 0
    assert "--transformer-config" in capsys.readouterr().err
