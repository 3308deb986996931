"""Emoji styles from the npm packages @iconify-json/SET (SVG icons), as 64x64 images.

A package holds SVG bodies (icons.json, one view box for the set) and, in some packages, the code points each icon
draws (chars.json). Where chars.json is empty (EmojiOne, Firefox OS Emoji, Fluent Emoji in colour), an icon's code
points come from its name: its CLDR short name ("grinning-face", "thumbs-up-light-skin-tone") or a common
shortcode ("joy"; both from the `emoji` package, BSD) or its Unicode name without spaces ("fatherchristmas"), or
any of those with "-skin-tone" after a trailing tone ("thumbs-up-light"), or one of the icon's aliases. Names that
match no emoji (symbols that are not emoji, retired names, a set's own names such as fxemoji's "grintears") are
left out. Each icon is rasterised with CairoSVG (the optional extra `.[data]`; it needs
the system's libcairo2) at 64x64 and composited on white, like the PNG styles. An icon's base emoji is its code
points without FE0F and the skin-tone modifiers (U+1F3FB-1F3FF): it takes Noto 16's split and category of that
base (maskgit.data.emoji), and icons whose base emoji Noto lacks are left out (the packages name no category to
give them). Icons that draw the same picture are kept once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tarfile
import unicodedata
import warnings
from pathlib import Path

from maskgit.errors import DataError

DATA_INSTALL = "pip install -e '.[data]' (CairoSVG, which needs the system's libcairo2, and emoji)"
SKIN_TONES = {"1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF"}
TONE_SUFFIXES = ("medium-light", "medium-dark", "light", "medium", "dark")  # "thumbs-up-light": a tone, short


def icon_base(code_points: str) -> str:
    """'1f44d-1f3fb' -> '1F44D': the base emoji's code points (upper case, no FE0F, no skin-tone modifier)."""
    return "-".join(p for p in code_points.upper().split("-") if p != "FE0F" and p not in SKIN_TONES)


def read_iconify_tarball(tarball: Path, package: str) -> tuple[dict, dict[str, str], bytes]:
    """(icons.json, chars.json, their bytes for the checksum) of a package tarball."""
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            icons_bytes = archive.extractfile("package/icons.json").read()  # type: ignore[union-attr]
            chars_bytes = archive.extractfile("package/chars.json").read()  # type: ignore[union-attr]
        return json.loads(icons_bytes), json.loads(chars_bytes), icons_bytes + b"\0" + chars_bytes
    except (OSError, tarfile.TarError, KeyError, AttributeError, json.JSONDecodeError) as error:
        raise DataError(f"{tarball} is not a readable {package} tarball ({error}): fetch it again") from error


def _squash(name: str) -> str:
    """'Grinning Face', ':grinning_face:', 'grinning-face' -> 'grinningface'."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@functools.cache
def _emoji_by_name() -> dict[str, str]:
    """Squashed CLDR short names (and their aliases) and Unicode names -> code points ('1f44d-1f3fb')."""
    try:
        import emoji
    except ImportError as error:
        raise DataError(f"this style names its icons and the emoji package reads the names: {DATA_INSTALL}") from error
    by_name: dict[str, str] = {}
    for text, data in emoji.EMOJI_DATA.items():
        code_points = "-".join(f"{ord(c):x}" for c in text)
        plain = text.replace("\ufe0f", "")
        unicode_name = [unicodedata.name(plain, "")] if len(plain) == 1 else []
        for name in [data["en"], *data.get("alias", []), *unicode_name]:
            if name:
                by_name.setdefault(_squash(name), code_points)
    return by_name


def code_points_by_name(name: str, aliases: tuple[str, ...] = ()) -> str | None:
    """An icon's code points from its name or one of its aliases; None when none names an emoji."""
    by_name = _emoji_by_name()
    for candidate in (name, *aliases):
        tone = next((t for t in TONE_SUFFIXES if candidate.endswith(f"-{t}")), None)
        for key in (candidate, f"{candidate}-skin-tone" if tone else ""):
            if key and _squash(key) in by_name:
                return by_name[_squash(key)]
    return None


def icon_code_points(icons: dict, chars: dict[str, str]) -> list[tuple[str, str]]:
    """(code points, icon name) of every icon that draws an emoji, in code order: from chars.json where the package
    has one, from the icons' names where it has none."""
    if chars:
        return sorted(chars.items())
    aliases: dict[str, list[str]] = {}
    for alias, entry in icons.get("aliases", {}).items():
        aliases.setdefault(entry.get("parent", ""), []).append(alias)
    named = ((code_points_by_name(name, tuple(sorted(aliases.get(name, [])))), name) for name in icons["icons"])
    return sorted((code_points, name) for code_points, name in named if code_points is not None)


def rasterise(icons: dict, name: str, size: int = 64) -> bytes:
    """One icon as a size x size RGBA PNG."""
    try:
        import cairosvg
    except (ImportError, OSError) as error:  # OSError: the package is there but libcairo2 is not
        raise DataError(f"this style's emoji are SVGs and CairoSVG draws them: {DATA_INSTALL}") from error
    icon = icons["icons"][name]
    width, height = icon.get("width", icons.get("width", 16)), icon.get("height", icons.get("height", 16))
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{size}" height="{size}">'
        f"{icon['body']}</svg>"
    )
    return cairosvg.svg2png(bytestring=svg.encode())


def iconify_pngs(
    tarball: Path, package: str, expected_icons: int, expected_checksum: str
) -> tuple[list[str], list[str], dict]:
    """(names, base emoji, PNG bytes by name) of every icon that draws an emoji, each picture once, in code order."""
    icons, chars, raw = read_iconify_tarball(tarball, package)
    if len(icons.get("icons", {})) != expected_icons:
        raise DataError(f"{tarball} holds {len(icons.get('icons', {}))} icons, expected {expected_icons}: fetch again")
    checksum = hashlib.sha256(raw).hexdigest()
    if checksum != expected_checksum:
        raise DataError(f"{tarball}: the icons' checksum is {checksum}, expected {expected_checksum}")
    names, bases, pngs, seen, undrawable = [], [], {}, set(), []
    for code_points, name in icon_code_points(icons, chars):
        if name not in icons["icons"] or name in pngs:
            continue
        body = hashlib.sha256(icons["icons"][name]["body"].encode()).digest()
        if body in seen:
            continue
        seen.add(body)
        try:
            pngs[name] = rasterise(icons, name)
        except DataError:
            raise
        except Exception as error:  # the renderer's own errors (cairo's, the SVG parser's) vary
            undrawable.append(f"{name} ({error.__class__.__name__})")
            continue
        names.append(name)
        bases.append(icon_base(code_points))
    if undrawable:
        listed = ", ".join(undrawable[:5]) + (" ..." if len(undrawable) > 5 else "")
        warnings.warn(f"{len(undrawable)} icon(s) of {package} CairoSVG cannot draw left out: {listed}", stacklevel=2)
    return names, bases, pngs
