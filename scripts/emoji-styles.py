"""The same emoji in every emoji style, one row per style, for the README: which style looks like what.

usage: python scripts/emoji-styles.py OUT.png [--emoji 1F600,1F436,...] [--styles google,twitter,...]
(the styles are fetched first: maskgit data fetch emoji:all)
"""

import argparse

import numpy as np
from PIL import Image

from maskgit.data.emoji import STYLES, base_key, emoji_cache_path, emoji_styles
from maskgit.data.images import image_grid
from maskgit.experiments.pictures import labelled_rows

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

labels = [f"{style}: {STYLES[style].title}" for style in styles]
Image.fromarray(labelled_rows(rows, labels, label_width=230)).save(args.out)
print(f"{args.out}: {len(styles)} styles x {len(wanted)} emoji")
