"""Emoji at 64x64 from the npm packages emoji-datasource-SET@VERSION (package MIT; images per style).

Styles (STYLES), each openly licensed: `google` (Noto Emoji, Apache-2.0) and `twitter` (Twemoji, CC-BY 4.0)
from version 16.0.0, and `google3`, Noto's older ("blob") art from emoji-datasource-google@3.0.0 (Apache-2.0;
2,392 files of which 1,919 are named by its emoji.json, some of those repeating an image: kept once each).
The Apple and Facebook sets of the same family are left out: their images are not openly licensed. Styles drawn
from SVG icons (@iconify-json packages, maskgit.data.iconify): `fluent` (Microsoft Fluent Emoji Flat, MIT),
`fluentcolor` (the same emoji in Fluent's colour style, MIT), `emojione` (EmojiOne 2, CC-BY 4.0) and `fxemoji`
(Firefox OS Emoji, Apache-2.0).

`fetch_emoji` runs `npm pack` once per style, checks the 3,786 64-px PNGs against a checksum, composites
them on white and keeps them as one .npz in $MASKGIT_HOME/emoji (about 9 MB). The split is by base emoji
and is the same in every style: Noto's split decides it (747 test images, as many as the seeds' test set,
190 val, 2,849 train; skin-tone variants never cross splits), and an emoji that Noto lacks trains. Base
emoji are matched by code points without the FE0F variation selector (older packages write "2764" where
16.0.0 writes "2764-FE0F"), so no emoji of the benchmark's test split is seen in training in any style.
Labels are Noto 16's 10 emoji categories in every style.

Dataset names: `emoji` is Noto alone (the benchmark); `emoji:twitter` is Twemoji; `emoji:google,twitter`
is both; `emoji:google,twitter,google3` adds Noto's older art; `emoji:all` is every style.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from maskgit.data.iconify import iconify_pngs
from maskgit.data.images import ImageSet
from maskgit.data.splits import SPLIT_IDS, TRAIN, split_by_group
from maskgit.errors import DataError
from maskgit.fileio import atomic_write, maskgit_home


@dataclass(frozen=True)
class EmojiStyle:
    name: str  # the style's name in dataset names (emoji:NAME)
    title: str
    images_licence: str
    images: int  # 64-px PNGs in the package
    checksum: str  # SHA-256 over the sorted image file names and their bytes: see emoji_checksum
    image_set: str = ""  # the package's image set, img/SET/64/ (default: the name)
    version: str = "16.0.0"
    repeats: bool = False  # the package holds files emoji.json does not name, and images under two names
    iconify: str = ""  # the icon set of an @iconify-json/SET package: SVG icons (maskgit.data.iconify), not PNGs

    @property
    def set_name(self) -> str:
        return self.image_set or self.name

    @property
    def package(self) -> str:
        if self.iconify:
            return f"@iconify-json/{self.iconify}@{self.version}"
        return f"emoji-datasource-{self.set_name}@{self.version}"

    @property
    def tarball_pattern(self) -> str:
        """What `npm pack` names the tarball."""
        return f"iconify-json-{self.iconify}-*.tgz" if self.iconify else f"emoji-datasource-{self.set_name}-*.tgz"

    @property
    def image_dir(self) -> str:
        return f"package/img/{self.set_name}/64/"


STYLES = {
    "google": EmojiStyle(
        "google", "Noto Emoji", "Apache-2.0", 3786, "d3bfa01db3d34774490ee8194bbca35e3ebe55a9fff2cb050251a6c3860e6d85"
    ),
    "twitter": EmojiStyle(
        "twitter", "Twemoji", "CC-BY-4.0", 3786, "8455efbd4fc4a17aa943d0dce163be5afcf5bd2b698c60c53d79eaff930bb68b"
    ),
    "google3": EmojiStyle(
        "google3",
        "Noto Emoji, older style",
        "Apache-2.0",
        2392,
        "e746e49a5862a710fe0016353ab544edc3f8d728f9e62a2e42b64118108fd4df",
        image_set="google",
        version="3.0.0",
        repeats=True,
    ),
    "fluent": EmojiStyle(
        "fluent",
        "Microsoft Fluent Emoji Flat",
        "MIT",
        3174,  # icons (SVG) in the package
        "00610c28be659439cf81c36ff6b03d4b4a83200fd6977075f616fd30db89ef31",
        version="1.2.6",
        iconify="fluent-emoji-flat",
    ),
    "emojione": EmojiStyle(
        "emojione",
        "EmojiOne 2",
        "CC-BY-4.0",
        1834,
        "8b6d46bfb42d2464087e3469ca6df802360de14ef3b397c8c5faf91cbd5232f8",
        version="1.2.3",
        iconify="emojione",
    ),
    "fxemoji": EmojiStyle(
        "fxemoji",
        "Firefox OS Emoji",
        "Apache-2.0",
        1034,
        "19b4198bd6ebbbce488891fe57ea74ebd8c81ec1c593dd72141665e7c81f511b",
        version="1.2.2",
        iconify="fxemoji",
    ),
    "fluentcolor": EmojiStyle(
        "fluentcolor",
        "Microsoft Fluent Emoji (colour)",
        "MIT",
        3174,
        "556623c6ce2eeae37a06fbd305a055b74c7bf16d2f16179373d757a14ee4be2c",
        version="1.2.7",
        iconify="fluent-emoji",
    ),
}
SPLIT_STYLE = "google"  # Noto's split by base emoji holds in every style
LABEL_KINDS = ("category", "subcategory")  # Noto 16's emoji.json: 10 categories, about 100 subcategories
TEST_IMAGES, VAL_IMAGES = 747, 190


def emoji_style(name: str) -> EmojiStyle:
    if name not in STYLES:
        raise DataError(
            f"unknown emoji style {name!r}: choose from {', '.join(STYLES)} or all (e.g. emoji:google,twitter,google3)"
        )
    return STYLES[name]


def emoji_styles(argument: str) -> tuple[str, ...]:
    """The styles of a dataset name's argument: "" (plain `emoji`) is Noto alone; "google,twitter" is both; "all"
    is every style, Noto first."""
    if argument.strip() == "all":
        return tuple(STYLES)
    names = tuple(a.strip() for a in argument.split(",")) if argument else (SPLIT_STYLE,)
    return tuple(emoji_style(name).name for name in names)


def emoji_cache_path(style: str = SPLIT_STYLE) -> Path:
    s = emoji_style(style)
    return maskgit_home() / "emoji" / f"emoji-{s.name}-{s.version}-64px.npz"


def base_key(unified: str) -> str:
    """An emoji's code points without the FE0F variation selector, upper case: the same emoji in every package
    version ("2764" in 3.0.0 is "2764-FE0F" in 16.0.0)."""
    return "-".join(p for p in unified.upper().split("-") if p != "FE0F")


def emoji_checksum(pngs: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(pngs):
        digest.update(name.encode() + b"\0" + hashlib.sha256(pngs[name]).digest())
    return digest.hexdigest()


def npm_pack(destination: Path, style: EmojiStyle) -> Path:
    """Download the package tarball with npm into `destination`; a DataError says what to do without npm."""
    npm = shutil.which("npm")
    if npm is None:
        raise DataError(
            "npm is not installed, and it fetches the emoji data: install Node.js and npm (e.g. apt-get install npm), "
            f"or download {style.package}'s tarball elsewhere and run `maskgit data fetch emoji --tarball FILE`, "
            "or train on your own images with --data folder:PATH"
        )
    run = subprocess.run(
        [npm, "pack", style.package, "--pack-destination", str(destination)], capture_output=True, text=True
    )
    tarballs = sorted(destination.glob(style.tarball_pattern))
    if run.returncode != 0 or not tarballs:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise DataError(f"`npm pack {style.package}` failed ({last}): check the network to the npm registry")
    return tarballs[0]


def read_tarball(tarball: Path, style: EmojiStyle) -> tuple[list[dict], dict[str, bytes]]:
    """emoji.json's entries and the style's 64-px PNGs (file name -> bytes) of a package tarball."""
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            entries = json.load(archive.extractfile("package/emoji.json"))  # type: ignore[arg-type]
            pngs = {
                m.name.removeprefix(style.image_dir): archive.extractfile(m).read()  # type: ignore[union-attr]
                for m in archive.getmembers()
                if m.isfile() and m.name.startswith(style.image_dir) and m.name.endswith(".png")
            }
    except (OSError, tarfile.TarError, KeyError, json.JSONDecodeError) as error:
        raise DataError(f"{tarball} is not a readable {style.package} tarball ({error}): fetch it again") from error
    return entries, pngs


def build_emoji_cache(
    tarball: Path,
    destination: Path,
    expected_images: int | None = None,
    expected_checksum: str | None = None,
    style: str = SPLIT_STYLE,
) -> Path:
    """Check the tarball's images, composite them on white, split them, and save one .npz atomically.

    The expectations default to the real package's (STYLES). A style other than SPLIT_STYLE takes each
    base emoji's split and category from SPLIT_STYLE's cache (fetched first).
    """
    s = emoji_style(style)
    expected_images = expected_images or s.images
    expected_checksum = expected_checksum or s.checksum
    subcategories_of: list[str] = []
    if s.iconify:
        names, bases, pngs = iconify_pngs(tarball, s.package, expected_images, expected_checksum)
        categories_of: list[str | None] = [None] * len(names)  # the package names no categories
    else:
        names, bases, categories_of, subcategories_of, pngs = _datasource_images(  # type: ignore[assignment]
            tarball, s, expected_images, expected_checksum
        )
    extra = {}
    if s.name == SPLIT_STYLE:
        categories = sorted(set(categories_of))  # type: ignore[type-var]
        split = split_by_group(bases, TEST_IMAGES, VAL_IMAGES)
        labels = [categories.index(c) for c in categories_of]  # type: ignore[arg-type]
        subcategories = sorted(set(subcategories_of))  # finer classes; every style takes them from here
        extra = {
            "subcategory_labels": np.array([subcategories.index(c) for c in subcategories_of], dtype=np.int64),
            "subcategory_names": np.array(subcategories),
        }
    else:  # Noto 16's split and category of the same base emoji
        with np.load(fetch_emoji(style=SPLIT_STYLE)) as reference:
            keys = [base_key(b) for b in reference["bases"].tolist()]
            split_of = dict(zip(keys, reference["split"].tolist(), strict=True))
            label_of = dict(zip(keys, reference["labels"].tolist(), strict=True))
            categories = reference["class_names"].tolist()
        if s.iconify:  # no category to give an emoji that Noto lacks: left out
            kept = [i for i, b in enumerate(bases) if base_key(b) in label_of]
            names, bases, categories_of = [names[i] for i in kept], [bases[i] for i in kept], [None] * len(kept)
        split = np.array([split_of.get(base_key(b), TRAIN) for b in bases], dtype=np.int64)
        labels = [
            label_of[base_key(b)] if base_key(b) in label_of else _category_index(str(c), categories)
            for b, c in zip(bases, categories_of, strict=True)
        ]
    images = np.stack([_composite_on_white(pngs[name]) for name in names])
    arrays = {
        "images": images,
        "names": np.array(names),
        "bases": np.array(bases),
        "labels": np.array(labels, dtype=np.int64),
        "class_names": np.array(categories),
        "split": split,
        **extra,
    }
    atomic_write(destination, lambda tmp: np.savez_compressed(open(tmp, "wb"), **arrays))  # noqa: SIM115
    return destination


def _datasource_images(
    tarball: Path, s: EmojiStyle, expected_images: int, expected_checksum: str
) -> tuple[list[str], list[str], list[str], list[str], dict[str, bytes]]:
    """(names, base emoji, categories, subcategories, PNG bytes by name) of an emoji-datasource tarball, checked."""
    entries, pngs = read_tarball(tarball, s)
    if len(pngs) != expected_images:
        raise DataError(f"{tarball} holds {len(pngs)} 64-px emoji images, expected {expected_images}: fetch it again")
    checksum = emoji_checksum(pngs)
    if checksum != expected_checksum:
        raise DataError(f"{tarball}: the emoji images' checksum is {checksum}, expected {expected_checksum}")
    names, bases, categories_of, subcategories_of = [], [], [], []
    seen: set[bytes] = set()  # image contents already taken (packages with repeats name some twice)
    for entry in sorted(entries, key=lambda e: e["sort_order"]):
        variants = [entry, *sorted(entry.get("skin_variations", {}).values(), key=lambda v: v["unified"])]
        for variant in variants:
            if variant.get(f"has_img_{s.set_name}") and variant["image"] in pngs:
                content = hashlib.sha256(pngs[variant["image"]]).digest()
                if s.repeats and content in seen:
                    continue
                seen.add(content)
                names.append(variant["image"])
                bases.append(entry["unified"])
                categories_of.append(entry["category"])
                subcategories_of.append(entry.get("subcategory", ""))  # older packages name none
    if len(names) != len(pngs) and not s.repeats:
        raise DataError(f"{tarball}: emoji.json names {len(names)} of its {len(pngs)} images: fetch it again")
    return names, bases, categories_of, subcategories_of, pngs


def _category_index(category: str, categories: list[str]) -> int:
    """An emoji that Noto lacks keeps its own category, which must be one of Noto's."""
    if category not in categories:
        raise DataError(f"the emoji category {category!r} is not one of Noto's ({', '.join(categories)})")
    return categories.index(category)


def _composite_on_white(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        rgba = image.convert("RGBA")
    if rgba.size != (64, 64):
        rgba = rgba.resize((64, 64), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(canvas, rgba).convert("RGB"))


def fetch_emoji(force: bool = False, tarball: Path | None = None, style: str = SPLIT_STYLE) -> Path:
    """Make sure one style's emoji cache exists (fetching with npm if needed) and return its path."""
    destination = emoji_cache_path(style)
    if destination.is_file() and not force:
        return destination
    if tarball is not None:
        return build_emoji_cache(Path(tarball), destination, style=style)
    with tempfile.TemporaryDirectory() as tmp:
        return build_emoji_cache(npm_pack(Path(tmp), emoji_style(style)), destination, style=style)


def load_emoji(split: str, styles: tuple[str, ...] = (SPLIT_STYLE,), labels: str = "category") -> ImageSet:
    """One split of the emoji data in one or more styles (each fetched on first use), style by style.

    labels: "category" (10 classes, e.g. Smileys & Emotion) or "subcategory" (about 100, e.g. face-smiling,
    animal-mammal), both Noto 16's for the same base emoji in every style. Image names are STYLE/FILE when
    there is more than one style.
    """
    if labels not in LABEL_KINDS:
        raise DataError(f"emoji labels are {' or '.join(LABEL_KINDS)}, not {labels!r}")
    parts = [_load_style(split, style, labels) for style in dict.fromkeys(styles)]
    if len(parts) == 1:
        return parts[0]
    for part, style in zip(parts, styles, strict=True):
        part.names = [f"{style}/{name}" for name in part.names]
    return ImageSet(
        images=np.concatenate([p.images for p in parts]),
        names=[n for p in parts for n in p.names],
        labels=np.concatenate([p.labels for p in parts]),  # type: ignore[misc]
        class_names=parts[0].class_names,
    )


def _load_style(split: str, style: str, labels: str = "category") -> ImageSet:
    path = emoji_cache_path(style)
    if not path.is_file():
        fetch_emoji(style=style)
    try:
        with np.load(path) as data:
            keep = data["split"] == SPLIT_IDS[split]
            images = ImageSet(
                images=data["images"][keep],
                names=[str(n) for n in data["names"][keep]],
                labels=data["labels"][keep],
                class_names=[str(c) for c in data["class_names"]],
            )
            bases = data["bases"][keep].tolist()
    except (OSError, ValueError, KeyError) as error:
        raise DataError(
            f"the emoji cache {path} is unreadable ({error}): run `maskgit data fetch emoji:{style} --force`"
        ) from error
    if labels == "subcategory":
        by_base, names = subcategories()
        lacking = sorted({b for b in bases if base_key(b) not in by_base})
        if lacking:
            raise DataError(f"emoji {', '.join(lacking[:5])} of {style} have no subcategory (Noto 16 lacks them)")
        images.labels = np.array([by_base[base_key(b)] for b in bases], dtype=np.int64)
        images.class_names = names
    return images


def subcategories() -> tuple[dict[str, int], list[str]]:
    """Noto 16's subcategory of each base emoji (by base_key) and the subcategory names, from its cache."""
    path = fetch_emoji()
    with np.load(path) as data:
        if "subcategory_labels" not in data.files:
            raise DataError(f"the emoji cache {path} predates subcategories: run `maskgit data fetch emoji --force`")
        keys = [base_key(b) for b in data["bases"].tolist()]
        by_base = dict(zip(keys, data["subcategory_labels"].tolist(), strict=True))
        return by_base, [str(name) for name in data["subcategory_names"]]
