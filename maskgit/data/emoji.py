"""Noto Emoji at 64x64 from the npm package emoji-datasource-google@16.0.0 (images Apache-2.0, package MIT).

`fetch_emoji` runs `npm pack` once, checks the 3,786 64-px PNGs against a checksum, composites them on
white and keeps them as one .npz in $MASKGIT_HOME/emoji (about 9 MB). The split is by base emoji, so
the skin-tone variants of an emoji never cross splits: 747 test images (as many as the seeds' test
set), 190 val, 2,849 train. Labels are the 10 emoji categories.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from maskgit.data.images import ImageSet
from maskgit.data.splits import SPLIT_IDS, split_by_group
from maskgit.errors import DataError
from maskgit.fileio import atomic_write, maskgit_home

EMOJI_PACKAGE = "emoji-datasource-google@16.0.0"
EMOJI_IMAGES = 3786
# SHA-256 over the sorted image file names and their bytes: see emoji_checksum.
EMOJI_CHECKSUM = "d3bfa01db3d34774490ee8194bbca35e3ebe55a9fff2cb050251a6c3860e6d85"
TEST_IMAGES, VAL_IMAGES = 747, 190
IMAGE_DIR = "package/img/google/64/"


def emoji_cache_path() -> Path:
    return maskgit_home() / "emoji" / "emoji-google-16.0.0-64px.npz"


def emoji_checksum(pngs: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(pngs):
        digest.update(name.encode() + b"\0" + hashlib.sha256(pngs[name]).digest())
    return digest.hexdigest()


def npm_pack(destination: Path) -> Path:
    """Download the package tarball with npm into `destination`; a DataError says what to do without npm."""
    npm = shutil.which("npm")
    if npm is None:
        raise DataError(
            "npm is not installed, and it fetches the emoji data: install Node.js and npm (e.g. apt-get install npm), "
            f"or download {EMOJI_PACKAGE}'s tarball elsewhere and run `maskgit data fetch emoji --tarball FILE`, "
            "or train on your own images with --data folder:PATH"
        )
    run = subprocess.run(
        [npm, "pack", EMOJI_PACKAGE, "--pack-destination", str(destination)], capture_output=True, text=True
    )
    tarballs = sorted(destination.glob("emoji-datasource-google-*.tgz"))
    if run.returncode != 0 or not tarballs:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise DataError(f"`npm pack {EMOJI_PACKAGE}` failed ({last}): check the network to the npm registry")
    return tarballs[0]


def read_tarball(tarball: Path) -> tuple[list[dict], dict[str, bytes]]:
    """emoji.json's entries and the 64-px PNGs (file name -> bytes) of a package tarball."""
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            entries = json.load(archive.extractfile("package/emoji.json"))  # type: ignore[arg-type]
            pngs = {
                m.name.removeprefix(IMAGE_DIR): archive.extractfile(m).read()  # type: ignore[union-attr]
                for m in archive.getmembers()
                if m.isfile() and m.name.startswith(IMAGE_DIR) and m.name.endswith(".png")
            }
    except (OSError, tarfile.TarError, KeyError, json.JSONDecodeError) as error:
        raise DataError(f"{tarball} is not a readable {EMOJI_PACKAGE} tarball ({error}): fetch it again") from error
    return entries, pngs


def build_emoji_cache(
    tarball: Path, destination: Path, expected_images: int | None = None, expected_checksum: str | None = None
) -> Path:
    """Check the tarball's images, composite them on white, split them, and save one .npz atomically.

    The expectations default to the real package's (EMOJI_IMAGES, EMOJI_CHECKSUM).
    """
    expected_images = expected_images or EMOJI_IMAGES
    expected_checksum = expected_checksum or EMOJI_CHECKSUM
    entries, pngs = read_tarball(tarball)
    if len(pngs) != expected_images:
        raise DataError(f"{tarball} holds {len(pngs)} 64-px emoji images, expected {expected_images}: fetch it again")
    checksum = emoji_checksum(pngs)
    if checksum != expected_checksum:
        raise DataError(f"{tarball}: the emoji images' checksum is {checksum}, expected {expected_checksum}")
    categories = sorted({e["category"] for e in entries})
    names, bases, labels = [], [], []
    for entry in sorted(entries, key=lambda e: e["sort_order"]):
        variants = [entry, *sorted(entry.get("skin_variations", {}).values(), key=lambda v: v["unified"])]
        for variant in variants:
            if variant.get("has_img_google") and variant["image"] in pngs:
                names.append(variant["image"])
                bases.append(entry["unified"])
                labels.append(categories.index(entry["category"]))
    if len(names) != len(pngs):
        raise DataError(f"{tarball}: emoji.json names {len(names)} of its {len(pngs)} images: fetch it again")
    images = np.stack([_composite_on_white(pngs[name]) for name in names])
    split = split_by_group(bases, TEST_IMAGES, VAL_IMAGES)
    arrays = {
        "images": images,
        "names": np.array(names),
        "bases": np.array(bases),
        "labels": np.array(labels, dtype=np.int64),
        "class_names": np.array(categories),
        "split": split,
    }
    atomic_write(destination, lambda tmp: np.savez_compressed(open(tmp, "wb"), **arrays))  # noqa: SIM115
    return destination


def _composite_on_white(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        rgba = image.convert("RGBA")
    if rgba.size != (64, 64):
        rgba = rgba.resize((64, 64), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(canvas, rgba).convert("RGB"))


def fetch_emoji(force: bool = False, tarball: Path | None = None) -> Path:
    """Make sure the emoji cache exists (fetching with npm if needed) and return its path."""
    destination = emoji_cache_path()
    if destination.is_file() and not force:
        return destination
    if tarball is not None:
        return build_emoji_cache(Path(tarball), destination)
    with tempfile.TemporaryDirectory() as tmp:
        return build_emoji_cache(npm_pack(Path(tmp)), destination)


def load_emoji(split: str) -> ImageSet:
    """One split of the emoji data (fetched on first use)."""
    path = emoji_cache_path()
    if not path.is_file():
        fetch_emoji()
    try:
        with np.load(path) as data:
            keep = data["split"] == SPLIT_IDS[split]
            return ImageSet(
                images=data["images"][keep],
                names=[str(n) for n in data["names"][keep]],
                labels=data["labels"][keep],
                class_names=[str(c) for c in data["class_names"]],
            )
    except (OSError, ValueError, KeyError) as error:
        raise DataError(
            f"the emoji cache {path} is unreadable ({error}): run `maskgit data fetch emoji --force`"
        ) from error
