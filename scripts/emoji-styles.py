"""The same emoji in every emoji style, one row per style, for the README: which style looks like what.

usage: python scripts/emoji-styles.py OUT.png [--emoji 1F600,1F436,...] [--styles google,twitter,...]
(the styles are fetched first: maskgit data fetch emoji:all)
"""

import argparse

import numpy as np
from PIL import Image, ImageDraw

from maskgit.data.emoji import STYLES, base_key, emoji_cache_path, emoji_styles
from maskgit.data.images import image_grid

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--emoji", default="1F600,1F602,1F436,1F355,1F680,1F44D,2764-FE0F,1F385", help="base code points")
parser.add_argument("--styles", default="all")
args = parser.parse_args()

wanted = [base_key(code_points) for code_points in args.emoji.split(",")]
styles = emoji_styles(args.styles)
rows = []
for style in styles:
    with np.load(emoji_cache_path(style)) as data:
        first = {}  # each base emoji's first image: its plain (untoned) variant, which comes first
        for i, base in enumerate(data["bases"].tolist()):
            first.setdefault(base_key(base), i)
        blank = np.full((64, 64, 3), 255, dtype=np.uint8)
        rows.append(image_grid(np.stack([data["images"][first[b]] if b in first else blank for b in wanted])))

scale, label_width = 2, 230
grid = np.concatenate(rows, axis=0)
picture = Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
canvas = Image.new("RGB", (picture.width + label_width, picture.height), "white")
canvas.paste(picture, (label_width, 0))
draw = ImageDraw.Draw(canvas)
row_height = picture.height / len(styles)
for row, style in enumerate(styles):
    draw.text((6, row * row_height + row_height / 2 - 6), f"{style}: {STYLES[style].title}", fill="black")
canvas.save(args.out)
print(f"{args.out}: {len(styles)} styles x {len(wanted)} emoji")
