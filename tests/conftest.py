import numpy as np
import pytest
import torch
from PIL import Image

from maskgit import VQGAN, MaskGIT, TokenizerConfig, save_checkpoint


def untouched(missing, reach: int = 3) -> np.ndarray:
    """Known pixels more than `reach` pixels (in rows or columns) from every missing one: those that compositing
    with the default blend (sigma 1 px, a kernel of radius 3) must leave exactly as they were. missing (..., H, W)."""
    missing = np.asarray(missing, bool)
    padded = np.pad(missing, [(0, 0)] * (missing.ndim - 2) + [(reach, reach)] * 2)
    h, w = missing.shape[-2:]
    near = np.zeros_like(missing)
    for dy in range(2 * reach + 1):
        for dx in range(2 * reach + 1):
            near |= padded[..., dy : dy + h, dx : dx + w]
    return ~near


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def tiny_model() -> MaskGIT:
    """Randomly initialised tiny tokenizer + transformer (16x16 RGB images, 4x4 tokens, 32 codes)."""
    torch.manual_seed(0)
    return MaskGIT.from_preset("tiny").eval()


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A folder of 60 16x16 images (51 train / 3 val / 6 test), a tiny tokenizer, a private MASKGIT_HOME."""
    monkeypatch.setenv("MASKGIT_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(0)
    images = tmp_path / "images"
    images.mkdir()
    for i in range(60):
        pixels = np.zeros((16, 16, 3), np.uint8)
        pixels[:, :, i % 3] = rng.integers(0, 255)
        pixels[rng.integers(0, 8) :, :8] = 255
        Image.fromarray(pixels).save(images / f"{i:02d}.png")
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "tokenizer.safetensors", tokenizer=VQGAN(TokenizerConfig.preset("tiny")))
    return tmp_path


@pytest.fixture
def model_file(tiny_model, tmp_path):
    """The tiny model saved as a checkpoint."""
    path = tmp_path / "model.safetensors"
    tiny_model.save(path)
    return path


def stage2_config(setup, **extra):
    """A tiny stage-2 training config on the `setup` folder (8 images a step, one epoch, no sample grids)."""
    from maskgit.training.config import TransformerTrainConfig, load_train_config

    values = {
        "data": f"folder:{setup / 'images'}",
        "tokenizer": str(setup / "tokenizer.safetensors"),
        "preset": "tiny",
        "out_dir": str(setup / "run"),
        "batch_size": 8,
        "epochs": 1,
        "sample_images": 0,
        **extra,
    }
    return load_train_config(TransformerTrainConfig, None, [f"{k}={v}" for k, v in values.items()])
