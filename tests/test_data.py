import gzip
import io
import json
import tarfile
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from maskgit.data import load_images, make_masks, read_mask, write_masks
from maskgit.data.emoji import STYLES, build_emoji_cache, emoji_checksum, fetch_emoji, load_emoji
from maskgit.data.fashion_mnist import read_idx
from maskgit.data.masks import MASK_KINDS, benchmark_masks
from maskgit.data.splits import TEST, TRAIN, VAL, split_by_group
from maskgit.errors import DataError, InputError


def png_bytes(color, size=64, mode="RGBA"):
    buffer = io.BytesIO()
    Image.new(mode, (size, size), color).save(buffer, format="PNG")
    return buffer.getvalue()


def fake_emoji_tarball(
    path, transparent_first=True, style="google", extra=False, entries=(), pngs=None, base_entries=True
):
    """A tarball laid out like emoji-datasource-STYLE: emoji.json and img/STYLE/64/*.png.

    extra: one more emoji (a cat) that only this style draws. entries, pngs: more emoji.json entries and files
    (with base_entries=False, only those)."""
    more_entries, more_pngs = [dict(e, has_img_google=True) for e in entries], dict(pngs or {})
    entries = [
        {
            "unified": "1F600",
            "image": "1f600.png",
            "category": "Smileys",
            "subcategory": "face-smiling",
            "sort_order": 1,
            "has_img_google": True,
        },
        {
            "unified": "1F44D",
            "image": "1f44d.png",
            "category": "People",
            "subcategory": "hand-fingers-closed",
            "sort_order": 2,
            "has_img_google": True,
            "skin_variations": {
                "1F3FB": {"unified": "1F44D-1F3FB", "image": "1f44d-1f3fb.png", "has_img_google": True},
                "1F3FF": {"unified": "1F44D-1F3FF", "image": "1f44d-1f3ff.png", "has_img_google": True},
            },
        },
        {
            "unified": "1F436",
            "image": "1f436.png",
            "category": "Animals",
            "subcategory": "animal-mammal",
            "sort_order": 3,
            "has_img_google": True,
        },
    ]
    if extra:
        cat = {"unified": "1F431", "image": "1f431.png", "category": "Animals", "sort_order": 4, "has_img_google": True}
        entries.append(cat)
    entries = json.loads(json.dumps(entries).replace('"has_img_google"', f'"has_img_{style}"'))
    entries = [*entries, *more_entries] if base_entries else more_entries
    pngs = {
        "1f600.png": png_bytes((0, 0, 0, 0) if transparent_first else (10, 20, 30, 255)),
        "1f44d.png": png_bytes((255, 0, 0, 255)),
        "1f44d-1f3fb.png": png_bytes((0, 255, 0, 255)),
        "1f44d-1f3ff.png": png_bytes((0, 0, 255, 255)),
        "1f436.png": png_bytes((9, 9, 9, 255)),
        **({"1f431.png": png_bytes((7, 7, 7, 255))} if extra else {}),
    }
    pngs = {**pngs, **more_pngs} if base_entries else more_pngs
    with tarfile.open(path, "w:gz") as archive:
        files = {"package/emoji.json": json.dumps(entries).encode()}
        files.update({f"package/img/{style}/64/{k}": v for k, v in pngs.items()})
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return pngs


def test_groups_never_cross_splits_and_the_split_is_deterministic():
    groups = [f"g{i // 3}" for i in range(300)] + [f"solo{i}" for i in range(100)]
    split = split_by_group(groups, test_images=60, val_images=20)
    assert np.array_equal(split, split_by_group(groups, 60, 20))
    by_group = {}
    for group, s in zip(groups, split, strict=True):
        by_group.setdefault(group, set()).add(int(s))
    assert all(len(s) == 1 for s in by_group.values())
    assert (split == TEST).sum() == 60 and (split == VAL).sum() == 20 and (split == TRAIN).sum() == 320


def test_emoji_cache_from_a_tarball_composites_on_white_and_splits_by_base(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKGIT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("maskgit.data.emoji.TEST_IMAGES", 1)
    monkeypatch.setattr("maskgit.data.emoji.VAL_IMAGES", 1)
    tarball = tmp_path / "emoji.tgz"
    pngs = fake_emoji_tarball(tarball)
    monkeypatch.setitem(STYLES, "google", replace(STYLES["google"], images=5, checksum=emoji_checksum(pngs)))
    path = fetch_emoji(tarball=tarball)
    assert path == tmp_path / "home" / "emoji" / "emoji-google-16.0.0-64px.npz"
    splits = {s: load_emoji(s) for s in ("train", "val", "test")}
    assert sum(len(s) for s in splits.values()) == 5
    everything = {n: (s, images) for s, images in splits.items() for n in images.names}
    thumbs = {everything[n][0] for n in ("1f44d.png", "1f44d-1f3fb.png", "1f44d-1f3ff.png")}
    assert len(thumbs) == 1  # skin-tone variants stay with their base emoji
    _, images = everything["1f600.png"]
    assert (images.images[images.names.index("1f600.png")] == 255).all()  # transparent -> white
    assert images.class_names == ["Animals", "People", "Smileys"]


def noto_and_twemoji_tarballs(tmp_path, monkeypatch, val_images):
    """Fake Noto and Twemoji packages (Twemoji draws one more emoji, a cat), the cache home in tmp_path."""
    monkeypatch.setenv("MASKGIT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("maskgit.data.emoji.TEST_IMAGES", 1)
    monkeypatch.setattr("maskgit.data.emoji.VAL_IMAGES", val_images)
    for style, extra in (("google", False), ("twitter", True)):
        pngs = fake_emoji_tarball(tmp_path / f"{style}.tgz", style=style, extra=extra)
        monkeypatch.setitem(STYLES, style, replace(STYLES[style], images=len(pngs), checksum=emoji_checksum(pngs)))


def test_every_emoji_style_keeps_notos_split_so_no_test_emoji_trains_in_any_style(tmp_path, monkeypatch):
    noto_and_twemoji_tarballs(tmp_path, monkeypatch, val_images=3)
    fetch_emoji(tarball=tmp_path / "google.tgz")
    fetch_emoji(tarball=tmp_path / "twitter.tgz", style="twitter")
    split_of = {}
    for split in ("train", "val", "test"):
        for name in load_images("emoji:google,twitter", split).names:
            split_of[name] = split
    assert len(split_of) == 5 + 6
    for name in ("1f600.png", "1f44d.png", "1f44d-1f3fb.png", "1f436.png"):
        assert split_of[f"google/{name}"] == split_of[f"twitter/{name}"], name
    assert "test" in set(split_of.values()) and "val" in set(split_of.values())
    assert split_of["twitter/1f431.png"] == "train"  # an emoji that Noto lacks is in no test split
    assert load_images("emoji:twitter", "test").names == load_images("emoji", "test").names
    with pytest.raises(DataError, match="unknown emoji style 'apple'"):
        load_images("emoji:apple", "train")


def test_subcategories_are_finer_classes_from_noto_for_the_same_emoji_in_every_style(tmp_path, monkeypatch):
    noto_and_twemoji_tarballs(tmp_path, monkeypatch, val_images=1)
    fetch_emoji(tarball=tmp_path / "google.tgz")
    label_of = {}
    for split in ("train", "val", "test"):
        images = load_images("emoji", split, labels="subcategory")
        assert images.class_names == ["animal-mammal", "face-smiling", "hand-fingers-closed"]
        label_of |= {n: images.class_names[label] for n, label in zip(images.names, images.labels, strict=True)}
    assert label_of["1f600.png"] == "face-smiling" and label_of["1f44d-1f3ff.png"] == "hand-fingers-closed"
    assert load_images("emoji", "train").class_names == ["Animals", "People", "Smileys"]  # categories by default
    fetch_emoji(tarball=tmp_path / "twitter.tgz", style="twitter")
    with pytest.raises(DataError, match=r"1F431.*no subcategory"):  # the cat that only Twemoji draws
        load_images("emoji:twitter", "train", labels="subcategory")
    with pytest.raises(DataError, match="only emoji data has subcategories"):
        load_images(f"folder:{tmp_path}", "train", labels="subcategory")
    with pytest.raises(DataError, match="category or subcategory"):
        load_images("emoji", "train", labels="kind")


def test_notos_older_style_keeps_notos_split_by_code_points_and_each_image_once(tmp_path, monkeypatch):
    """emoji-datasource-google@3.0.0 writes "2764" where 16.0.0 writes "2764-FE0F", names one image twice and holds
    files its emoji.json does not name: the heart still takes Noto 16's split and category, every image is kept
    once, the unnamed file not at all."""
    monkeypatch.setenv("MASKGIT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("maskgit.data.emoji.TEST_IMAGES", 2)
    monkeypatch.setattr("maskgit.data.emoji.VAL_IMAGES", 1)
    heart = {"unified": "2764-FE0F", "image": "2764-fe0f.png", "category": "Symbols", "sort_order": 0}
    pngs = fake_emoji_tarball(
        tmp_path / "google.tgz", entries=[heart], pngs={"2764-fe0f.png": png_bytes((1, 2, 3, 255))}
    )
    monkeypatch.setitem(STYLES, "google", replace(STYLES["google"], images=len(pngs), checksum=emoji_checksum(pngs)))
    fetch_emoji(tarball=tmp_path / "google.tgz")
    old_entries = [
        {"unified": "2764", "image": "2764.png", "category": "Hearts", "sort_order": 1, "has_img_google": True},
        {"unified": "1F600", "image": "1f600.png", "category": "People", "sort_order": 2, "has_img_google": True},
        {"unified": "1F436", "image": "1f436.png", "category": "Nature", "sort_order": 3, "has_img_google": True},
    ]
    same = png_bytes((5, 5, 5, 255))  # 1f436.png repeats 1f600.png's picture
    old_pngs = {"2764.png": png_bytes((200, 0, 0, 255)), "1f600.png": same, "1f436.png": same, "0023.png": same}
    fake_emoji_tarball(tmp_path / "old.tgz", entries=old_entries, pngs=old_pngs, base_entries=False)
    style = replace(STYLES["google3"], images=4, checksum=emoji_checksum(old_pngs))
    monkeypatch.setitem(STYLES, "google3", style)
    fetch_emoji(tarball=tmp_path / "old.tgz", style="google3")
    noto = {n: s for s in ("train", "val", "test") for n in load_images("emoji", s).names}
    old = {n: s for s in ("train", "val", "test") for n in load_images("emoji:google3", s).names}
    assert sorted(old) == ["1f600.png", "2764.png"]  # the repeat and the unnamed file are left out
    assert old["2764.png"] == noto["2764-fe0f.png"] and old["1f600.png"] == noto["1f600.png"]
    everything = load_images("emoji:google3", old["2764.png"])
    heart_label = everything.labels[everything.names.index("2764.png")]
    assert everything.class_names[heart_label] == "Symbols"  # Noto 16's category, not the old "Hearts"


def write_iconify_tarball(path, icons, chars=None):
    """A tarball laid out like @iconify-json/SET (icons.json, chars.json); returns its checksum."""
    import hashlib

    icons_bytes, chars_bytes = json.dumps(icons).encode(), json.dumps(chars or {}).encode()
    with tarfile.open(path, "w:gz") as archive:
        for name, data in (("package/icons.json", icons_bytes), ("package/chars.json", chars_bytes)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return hashlib.sha256(icons_bytes + b"\0" + chars_bytes).hexdigest()


def fake_iconify_style(tmp_path, monkeypatch, style, icons, chars=None):
    """Fetch Noto's fake tarball, then `style` from an @iconify-json tarball of `icons` and `chars`; return
    {name: (split, picture)} of the style's images and {file: split} of Noto's."""
    pytest.importorskip("cairosvg")
    monkeypatch.setenv("MASKGIT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("maskgit.data.emoji.TEST_IMAGES", 1)
    monkeypatch.setattr("maskgit.data.emoji.VAL_IMAGES", 1)
    pngs = fake_emoji_tarball(tmp_path / "google.tgz")
    monkeypatch.setitem(STYLES, "google", replace(STYLES["google"], images=len(pngs), checksum=emoji_checksum(pngs)))
    fetch_emoji(tarball=tmp_path / "google.tgz")
    checksum = write_iconify_tarball(tmp_path / f"{style}.tgz", icons, chars)
    monkeypatch.setitem(STYLES, style, replace(STYLES[style], images=len(icons["icons"]), checksum=checksum))
    fetch_emoji(tarball=tmp_path / f"{style}.tgz", style=style)
    noto = {n: s for s in ("train", "val", "test") for n in load_images("emoji", s).names}
    drawn = {}
    for split in ("train", "val", "test"):
        images = load_images(f"emoji:{style}", split)
        for name, picture in zip(images.names, images.images, strict=True):
            drawn[name] = (split, picture)
    return drawn, noto


def square(colour):
    return f'<rect x="0" y="0" width="32" height="32" fill="{colour}"/>'


def test_fluent_icons_are_drawn_and_take_notos_split_by_base_emoji(tmp_path, monkeypatch):
    """@iconify-json/fluent-emoji-flat: SVG icons keyed by code points. A skin-toned icon takes its base emoji's
    split, an icon drawing the same picture as another is kept once, one whose base Noto lacks is left out."""
    icons = {
        "width": 32,
        "height": 32,
        "icons": {
            "thumbs-up": {"body": square("#ff0000")},
            "thumbs-up-light": {"body": square("#00ff00")},
            "grinning": {"body": '<circle cx="16" cy="16" r="8" fill="#0000ff"/>'},  # white around it
            "grinning-again": {"body": '<circle cx="16" cy="16" r="8" fill="#0000ff"/>'},
            "cat": {"body": square("#070707")},
        },
    }
    chars = {
        "1f44d": "thumbs-up",
        "1f44d-1f3fb": "thumbs-up-light",
        "1f600": "grinning",
        "1f600-fe0f": "grinning-again",
        "1f431": "cat",
    }
    fluent, noto = fake_iconify_style(tmp_path, monkeypatch, "fluent", icons, chars)
    assert sorted(fluent) == ["grinning", "thumbs-up", "thumbs-up-light"]  # the repeat and the cat left out
    assert fluent["thumbs-up-light"][0] == fluent["thumbs-up"][0] == noto["1f44d.png"]
    assert fluent["grinning"][0] == noto["1f600.png"]
    assert (fluent["thumbs-up"][1] == [255, 0, 0]).all()  # drawn at 64x64
    grinning = fluent["grinning"][1]
    assert (grinning[0, 0] == 255).all() and (grinning[32, 32] == [0, 0, 255]).all()  # on white


def test_icons_without_code_points_are_matched_to_emoji_by_their_names(tmp_path, monkeypatch):
    """EmojiOne, Firefox OS Emoji, Fluent in colour: chars.json is empty, so an icon is the emoji its name names:
    a CLDR short name, a Unicode name run together, a name ending in a bare skin tone, or one of its aliases.
    Names of no emoji, and emoji Noto lacks, are left out."""
    pytest.importorskip("emoji")
    icons = {
        "width": 32,
        "height": 32,
        "icons": {
            "grinning-face": {"body": square("#ff0000")},  # CLDR: U+1F600
            "thumbsupsign": {"body": square("#00ff00")},  # Unicode's THUMBS UP SIGN: U+1F44D
            "thumbs-up-light": {"body": square("#0000ff")},  # a tone: U+1F44D U+1F3FB
            "puppy": {"body": square("#ffff00")},  # no emoji, but its alias dog-face is U+1F436
            "ballotboldscriptx": {"body": square("#00ffff")},  # a symbol, not an emoji
            "cat-face": {"body": square("#070707")},  # U+1F431, which Noto lacks here
        },
        "aliases": {"dog-face": {"parent": "puppy"}},
    }
    drawn, noto = fake_iconify_style(tmp_path, monkeypatch, "emojione", icons)
    assert sorted(drawn) == ["grinning-face", "puppy", "thumbs-up-light", "thumbsupsign"]
    assert drawn["grinning-face"][0] == noto["1f600.png"]
    assert drawn["thumbsupsign"][0] == drawn["thumbs-up-light"][0] == noto["1f44d.png"]
    assert drawn["puppy"][0] == noto["1f436.png"]
    assert (drawn["thumbs-up-light"][1] == [0, 0, 255]).all()


def test_an_icon_the_renderer_cannot_draw_is_left_out_with_a_warning_naming_it(tmp_path, monkeypatch):
    from maskgit.data import iconify

    icons = {"width": 32, "height": 32, "icons": {"grinning": {"body": square("#f00")}, "cat": {"body": "?"}}}
    checksum = write_iconify_tarball(tmp_path / "set.tgz", icons, {"1f600": "grinning", "1f431": "cat"})

    def rasterise(icons, name):
        if name == "cat":
            raise MemoryError("cairo returned CAIRO_STATUS_NO_MEMORY")
        return b"png"

    monkeypatch.setattr(iconify, "rasterise", rasterise)
    with pytest.warns(UserWarning, match=r"1 icon\(s\) of @iconify-json/set CairoSVG cannot draw left out: cat"):
        names, bases, pngs = iconify.iconify_pngs(tmp_path / "set.tgz", "@iconify-json/set", 2, checksum)
    assert names == ["grinning"] and bases == ["1F600"] and pngs == {"grinning": b"png"}


def test_every_style_is_one_name():
    from maskgit.data.emoji import emoji_styles

    assert emoji_styles("all") == tuple(STYLES) and emoji_styles("all")[0] == "google"
    with pytest.raises(DataError, match=r"choose from .* or all"):
        emoji_styles("google,apple")


def test_emoji_tarball_with_wrong_count_or_checksum_is_refused(tmp_path):
    tarball = tmp_path / "emoji.tgz"
    pngs = fake_emoji_tarball(tarball)
    with pytest.raises(DataError, match="holds 5 64-px emoji images, expected 3786"):
        build_emoji_cache(tarball, tmp_path / "out.npz")
    with pytest.raises(DataError, match="checksum"):
        build_emoji_cache(tarball, tmp_path / "out.npz", expected_images=5, expected_checksum="0" * 64)
    build_emoji_cache(tarball, tmp_path / "out.npz", 5, emoji_checksum(pngs))
    assert (tmp_path / "out.npz").is_file()


def test_without_npm_the_error_says_how_to_get_the_data(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKGIT_HOME", str(tmp_path))
    monkeypatch.setattr("maskgit.data.emoji.shutil.which", lambda name: None)
    with pytest.raises(DataError, match=r"npm is not installed.*--tarball FILE.*folder:PATH"):
        fetch_emoji()


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_idx_files_and_holds_out_the_last_5000_for_val(tmp_path):
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (5003, 28, 28)))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(5003) % 10)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (7, 28, 28)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(7) % 10)
    train = load_images(f"fashion-mnist:{tmp_path}", "train")
    val = load_images(f"fashion-mnist:{tmp_path}", "val", resolution=32)
    test = load_images(f"fashion-mnist:{tmp_path}", "test", channels=3)
    assert (len(train), len(val), len(test)) == (3, 5000, 7)
    assert train.images.shape == (3, 28, 28, 1) and val.images.shape == (5000, 32, 32, 1)
    assert test.images.shape == (7, 28, 28, 3) and list(train.labels) == [0, 1, 2]
    assert val.names[0] == "train_00003" and train.class_names[9] == "ankle boot"
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\0\0\x08\x01\0\0\0\x09abc"))
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "bad.gz")


def test_a_folder_of_images_is_cropped_resized_and_split(tmp_path):
    (tmp_path / "sub").mkdir()
    for i in range(18):
        Image.new("RGB", (100, 80), (i, 2 * i, 3 * i)).save(tmp_path / f"a{i:02d}.png")
    Image.new("RGB", (40, 40), (1, 2, 3)).save(tmp_path / "sub" / "b.jpg")
    Image.new("L", (40, 40), 128).save(tmp_path / "sub" / "grey.bmp")
    splits = {s: load_images(f"folder:{tmp_path}", s, resolution=32) for s in ("train", "val", "test")}
    assert [len(splits[s]) for s in ("train", "val", "test")] == [17, 1, 2]
    assert splits["train"].images.shape[1:] == (32, 32, 3)
    names = [n for s in splits.values() for n in s.names]
    assert sorted(names) == sorted([f"a{i:02d}.png" for i in range(18)] + ["sub/b.jpg", "sub/grey.bmp"])


def test_unreadable_images_are_skipped_with_one_warning_or_refused_when_strict(tmp_path):
    (tmp_path / "train").mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8)).save(tmp_path / "train" / f"ok{i}.png")
    (tmp_path / "train" / "broken.png").write_bytes(b"\x89PNG truncated")
    with pytest.warns(UserWarning, match=r"1 unreadable image file\(s\) skipped: broken.png"):
        images = load_images(f"folder:{tmp_path}", "train", resolution=8)
    assert len(images) == 3
    with pytest.raises(DataError, match=r"broken\.png"):
        load_images(f"folder:{tmp_path}", "train", resolution=8, strict=True)


def test_empty_folders_and_unknown_names_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="no image files"):
        load_images(f"folder:{tmp_path}", "train")
    with pytest.raises(DataError, match="unknown dataset 'imagenet'"):
        load_images("imagenet")
    with pytest.raises(DataError, match="unknown split"):
        load_images("emoji", "holdout")


def test_the_lab_layout_reads_folders_and_the_ground_truth_csv(tmp_path):
    for split in ("train", "val"):
        (tmp_path / "cat_face" / split).mkdir(parents=True)
        Image.new("RGB", (64, 64), (5, 6, 7)).save(tmp_path / "cat_face" / split / "c.png")
    rows = np.arange(2 * 64 * 64 * 3).reshape(2, -1) % 256
    csv_text = ",".join(f"p{i}" for i in range(rows.shape[1])) + "\n" + "\n".join(",".join(map(str, r)) for r in rows)
    (tmp_path / "faster-pytorch-fid").mkdir()
    (tmp_path / "faster-pytorch-fid" / "test_gt.csv").write_text(csv_text)
    assert len(load_images(f"lab:{tmp_path}", "train")) == 1
    test = load_images(f"lab:{tmp_path}", "test")
    assert test.images.shape == (2, 64, 64, 3) and test.names == ["image_000.png", "image_001.png"]
    assert test.images[0, 0, 1, 0] == 3  # HWC order: pixel (0, 1), channel 0 is value index 3
    (tmp_path / "faster-pytorch-fid" / "test_gt.csv").write_text("h\n1,2,3\n")
    with pytest.raises(DataError, match="expected rows of 12288 values"):
        load_images(f"lab:{tmp_path}", "test")


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_mask_generators_are_deterministic_and_cover_part_of_the_image(kind):
    masks = make_masks(kind, 50, 64, seed=3)
    assert masks.shape == (50, 64, 64) and masks.dtype == bool
    assert np.array_equal(masks, make_masks(kind, 50, 64, seed=3))
    assert not np.array_equal(masks, make_masks(kind, 50, 64, seed=4))
    coverage = masks.mean(axis=(1, 2))
    assert coverage.min() > 0.0 and coverage.max() < 0.75


def test_the_benchmark_masks_are_fixed():
    masks = benchmark_masks(747, 64)
    assert masks.shape == (747, 64, 64)
    assert np.array_equal(masks[:5], benchmark_masks(5, 64))  # a prefix of the same stream
    assert 0.15 < masks.mean() < 0.3


def test_the_large_benchmark_is_boxes_of_a_quarter_to_a_half_and_missing_sides():
    masks = benchmark_masks(747, 64, "large")
    assert np.array_equal(masks[:5], benchmark_masks(5, 64, "large"))
    coverage = masks.mean(axis=(1, 2))
    assert coverage.min() >= 0.24 and coverage.max() <= 0.51  # 25-50%, up to rounding to whole pixels
    rows, columns = masks.any(axis=2), masks.any(axis=1)
    # every mask is one solid rectangle: its bounding box is all missing
    assert all(m.sum() == r.sum() * c.sum() for m, r, c in zip(masks, rows, columns, strict=True))
    touches = [
        (r[0] and c.all()) or (r[-1] and c.all()) or (c[0] and r.all()) or (c[-1] and r.all())
        for r, c in zip(rows, columns, strict=True)
    ]
    assert 0.4 < np.mean(touches) < 0.6  # about half are outpainting (a whole side missing)
    assert not np.array_equal(masks, benchmark_masks(747, 64, "strokes"))
    with pytest.raises(DataError, match="strokes, large"):
        benchmark_masks(5, 64, "huge")


def test_masks_round_trip_through_png_files_white_known_black_missing(tmp_path):
    masks = make_masks("boxes", 3, 32, seed=0)
    paths = write_masks(masks, tmp_path)
    assert [p.name for p in paths] == ["mask_000.png", "mask_001.png", "mask_002.png"]
    assert np.asarray(Image.open(paths[0]))[~masks[0]].min() == 255
    assert all(np.array_equal(read_mask(p), m) for p, m in zip(paths, masks, strict=True))
    with pytest.raises(InputError, match="expected 64x64"):
        read_mask(paths[0], resolution=64)
    with pytest.raises(DataError, match="unknown mask kind 'blobs'"):
        make_masks("blobs", 1, 32)


def test_the_lab_inpainting_set_pairs_masked_images_with_masks(tmp_path):
    from maskgit.data import load_inpainting_set

    (tmp_path / "cat_face" / "masked_image").mkdir(parents=True)
    (tmp_path / "mask64").mkdir()
    for i in range(3):
        Image.new("RGB", (64, 64), (i, i, i)).save(tmp_path / "cat_face" / "masked_image" / f"image_{i:03d}.png")
    write_masks(make_masks("boxes", 3, 64, seed=1), tmp_path / "mask64")
    images, masks = load_inpainting_set(f"lab:{tmp_path}", 64)
    assert len(images) == 3 and masks.shape == (3, 64, 64)
    assert np.array_equal(masks, make_masks("boxes", 3, 64, seed=1))
    (tmp_path / "mask64" / "mask_002.png").unlink()
    with pytest.raises(DataError, match="3 masked images but 2 masks"):
        load_inpainting_set(f"lab:{tmp_path}", 64)
    write_masks(make_masks("boxes", 3, 32, seed=1), tmp_path / "mask64")
    with pytest.raises(InputError, match="is 32x32, expected 64x64"):
        load_inpainting_set(f"lab:{tmp_path}", 64)


def test_labelled_rows_stack_scaled_rows_beside_their_labels():
    from maskgit.experiments.pictures import labelled_rows

    red, blue = np.zeros((4, 6, 3), np.uint8), np.zeros((4, 6, 3), np.uint8)
    red[..., 0], blue[..., 2] = 255, 255
    picture = labelled_rows([red, blue], ["first", "second"], scale=3, label_width=50)
    assert picture.shape == (24, 50 + 18, 3)  # rows stacked, scaled 3x, after the margin
    assert (picture[:12, 50:] == [255, 0, 0]).all() and (picture[12:, 50:] == [0, 0, 255]).all()
    margin = picture[:, :50]
    assert (margin[:12] < 128).any() and (margin[12:] < 128).any()  # each row's label is drawn in its margin
