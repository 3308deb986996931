"""Microsoft's Fluent Emoji Flat from the npm package @iconify-json/fluent-emoji-flat (MIT), as 64x64 images.

The package holds SVG bodies (icons.json, a 32x32 view box) and the code points each icon draws (chars.json); no
flags. Each icon is rasterised with CairoSVG (the optional extra `.[data]`; it needs the system's libcairo2) at
64x64 and composited on white, like the PNG styles. An icon's base emoji is its code points without FE0F and the
skin-tone modifiers (U+1F3FB-1F3FF): it takes Noto 16's split and category of that base (maskgit.data.emoji), and
icons whose base emoji Noto lacks are left out (the package names no category to give them). Icons that draw the
same picture are kept once.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

from maskgit.errors import DataError

CAIROSVG_INSTALL = "pip install cairosvg (or pip install -e '.[data]'; it needs the system's libcairo2)"
SKIN_TONES = {"1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF"}


def fluent_base(code_points: str) -> str:
    """'1f44d-1f3fb' -> '1F44D': the base emoji's code points (upper case, no FE0F, no skin-tone modifier)."""
    return "-".join(p for p in code_points.upper().split("-") if p != "FE0F" and p not in SKIN_TONES)


def read_fluent_tarball(tarball: Path) -> tuple[dict, dict[str, str], bytes]:
    """(icons.json, chars.json, their bytes for the checksum) of a package tarball."""
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            icons_bytes = archive.extractfile("package/icons.json").read()  # type: ignore[union-attr]
            chars_bytes = archive.extractfile("package/chars.json").read()  # type: ignore[union-attr]
        return json.loads(icons_bytes), json.loads(chars_bytes), icons_bytes + b"\0" + chars_bytes
    except (OSError, tarfile.TarError, KeyError, AttributeError, json.JSONDecodeError) as error:
        raise DataError(f"{tarball} is not a readable @iconify-json/fluent-emoji-flat tarball ({error})") from error


def rasterise(icons: dict, name: str, size: int = 64) -> bytes:
    """One icon as a size x size RGBA PNG."""
    try:
        import cairosvg
    except (ImportError, OSError) as error:  # OSError: the package is there but libcairo2 is not
        raise DataError(f"the Fluent emoji are SVGs and CairoSVG draws them: {CAIROSVG_INSTALL}") from error
    icon = icons["icons"][name]
    width, height = icon.get("width", icons.get("width", 16)), icon.get("height", icons.get("height", 16))
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{size}" height="{size}">'
        f"{icon['body']}</svg>"
    )
    return cairosvg.svg2png(bytestring=svg.encode())


def fluent_pngs(tarball: Path, expected_icons: int, expected_checksum: str) -> tuple[list[str], list[str], dict]:
    """(names, base emoji, PNG bytes by name) of every icon that draws an emoji, each picture once, in code order."""
    icons, chars, raw = read_fluent_tarball(tarball)
    if len(icons.get("icons", {})) != expected_icons:
        raise DataError(f"{tarball} holds {len(icons.get('icons', {}))} icons, expected {expected_icons}: fetch again")
    checksum = hashlib.sha256(raw).hexdigest()
    if checksum != expected_checksum:
        raise DataError(f"{tarball}: the icons' checksum is {checksum}, expected {expected_checksum}")
    names, bases, pngs, seen = [], [], {}, set()
    for code_points, name in sorted(chars.items()):
        if name not in icons["icons"] or name in pngs:
            continue
        body = hashlib.sha256(icons["icons"][name]["body"].encode()).digest()
        if body in seen:
            continue
        seen.add(body)
        names.append(name)
        bases.append(fluent_base(code_points))
        pngs[name] = rasterise(icons, name)
    return names, bases, pngs
