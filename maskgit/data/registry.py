"""Dataset names -> ImageSets at a model's resolution and channel count.

Names: `emoji` (or `emoji:STYLE,...`), `fashion-mnist` (or `fashion-mnist:FOLDER`), `folder:PATH`, `lab:PATH`.
"""

from __future__ import annotations

from pathlib import Path

from maskgit.data.emoji import emoji_styles, load_emoji
from maskgit.data.fashion_mnist import load_fashion_mnist
from maskgit.data.folder import load_folder, load_lab
from maskgit.data.images import ImageSet, fit_to_square, set_channels
from maskgit.data.splits import SPLIT_IDS
from maskgit.errors import DataError

DATASETS = {
    "emoji": "Noto Emoji, 64x64 RGB on white; 2,849 train / 190 val / 747 test, split by base emoji; 10 categories",
    "emoji:STYLE[,STYLE]": "emoji in other open styles (google = Noto, twitter = Twemoji, google3 = Noto's older "
    "art, fluent = Microsoft Fluent Emoji Flat, fluentcolor = Fluent in colour, emojione = EmojiOne 2, fxemoji = "
    "Firefox OS Emoji; all = every style), with Noto's split",
    "fashion-mnist[:FOLDER]": "Fashion-MNIST, 28x28 grey; 55,000 / 5,000 / 10,000; 10 classes (Debian or IDX folder)",
    "folder:PATH": "any folder of png/jpg/webp/bmp images (recursive); train/val/test sub-folders, else 85/5/10",
    "lab:PATH": "the seeds' lab layout: cat_face/train, cat_face/val, test ground truth from test_gt.csv",
}


def load_images(
    spec: str,
    split: str = "train",
    resolution: int | None = None,
    channels: int | None = None,
    *,
    strict: bool = False,
    labels: str = "category",
) -> ImageSet:
    """Load one split of a named dataset, center-cropped and resized to `resolution`, with `channels` channels.

    resolution None keeps the dataset's own size (folders: 64); channels None keeps its own channels.
    labels: the classes: "category" (every dataset's own labels), or "subcategory" (emoji only: about 100
    finer classes, e.g. face-smiling).
    """
    if split not in SPLIT_IDS:
        raise DataError(f"unknown split {split!r}: choose train, val or test")
    name, _, argument = spec.partition(":")
    if labels != "category" and name != "emoji":
        raise DataError(f"{spec} has no {labels} labels: only emoji data has subcategories")
    if name == "emoji":
        images = load_emoji(split, emoji_styles(argument), labels)
    elif name == "fashion-mnist":
        images = load_fashion_mnist(split, Path(argument) if argument else None)
    elif name == "folder" and argument:
        images = load_folder(Path(argument), split, resolution or 64, strict)
    elif name == "lab" and argument:
        images = load_lab(Path(argument), split, resolution or 64, strict)
    else:
        raise DataError(f"unknown dataset {spec!r}: choose one of {', '.join(DATASETS)}")
    if resolution is not None and images.resolution != resolution:
        images.images = fit_to_square(images.images, resolution)
    if channels is not None and images.channels != channels:
        images.images = set_channels(images.images, channels)
    return images
