"""A grid of generated samples by class for the README: one row of 8 per class, the class name on its left, with
the `generate` preset (the default of `maskgit generate`) or the flags given over it.

usage: python scripts/class-grid.py OUT.png [--model M] [--classes face-smiling,heart,...] [--cfg-scale 3]
       [--sample-temperature 0.8] [--seed 0]
"""

import argparse
from dataclasses import replace

import torch
from PIL import Image

from maskgit import DecodeConfig, MaskGIT, per_image_generators
from maskgit.data.images import image_grid, to_uint8
from maskgit.experiments.pictures import labelled_rows

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--model", default="maskgit/weights/emoji.safetensors")
parser.add_argument("--classes", default="face-smiling,heart,food-fruit,animal-mammal")
parser.add_argument("--cfg-scale", type=float)
parser.add_argument("--sample-temperature", type=float)
parser.add_argument("--per-class", type=int, default=8)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

model = MaskGIT.load(args.model)
overrides = {"cfg_scale": args.cfg_scale, "sample_temperature": args.sample_temperature}
config = replace(DecodeConfig.preset("generate"), **{k: v for k, v in overrides.items() if v is not None})
names = args.classes.split(",")
rows = []
for row, name in enumerate(names):
    class_id = model.classes.class_id(name)
    seeds = [args.seed + row * args.per_class + i for i in range(args.per_class)]
    result = model.generate(
        args.per_class,
        config,
        class_ids=torch.full((args.per_class,), class_id),
        generator=per_image_generators(seeds),
    )
    rows.append(image_grid(to_uint8(result.images), columns=args.per_class))
    print(f"{name}: {args.per_class} samples", flush=True)

Image.fromarray(labelled_rows(rows, names)).save(args.out)
print(f"{args.out}: {len(names)} classes x {args.per_class} ({config})")
