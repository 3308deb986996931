import pytest
import torch

from maskgit import MaskGIT


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
