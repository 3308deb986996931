"""What a perfect generator would score: real training images, as they are and through a model's tokenizer,
scored as `maskgit generate --score emoji` scores samples (FID and KID against the 747 emoji test images,
precision and recall), at several sample counts. The generation table's floor, as the oracle is the inpainting
table's: no transformer on this tokenizer draws better than its own reconstructions of real emoji.

The images are drawn at random from the training split of DATA (the styles the model was trained on), so the
test split's emoji are never among them. FID falls with the number of samples (its bias), KID does not.

Then the class-match floor: the share of those training images (labelled with the emoji subcategories the
shipped model draws) whose nearest test image in Inception features has their subcategory, as `--score` counts
a class-conditional sample's class match.

Last, the near-copy floor: the share of the 747 test images themselves (held-out real emoji, as they are and
through the tokenizer) that `--score` would count as near-copies of DATA's training images. A generator that drew
new emoji as well as the test set does would show at least this share.

usage: python scripts/generation-floor.py [MODEL] [DATA] [COUNTS]
   e.g. python scripts/generation-floor.py maskgit/weights/emoji.safetensors \
        emoji:google,twitter,google3,fluent 300,747,2000
"""

import json
import sys

import numpy as np
import torch

from maskgit import MaskGIT
from maskgit.data.images import to_uint8
from maskgit.data.registry import load_images
from maskgit.evaluation.fid import cached_features, score_features
from maskgit.evaluation.generation import class_match, near_duplicate_share, precision_recall
from maskgit.evaluation.inception import InceptionFeatures

model_path = sys.argv[1] if len(sys.argv) > 1 else "maskgit/weights/emoji.safetensors"
data = sys.argv[2] if len(sys.argv) > 2 else "emoji:google,twitter,google3,fluent"
counts = [int(n) for n in (sys.argv[3] if len(sys.argv) > 3 else "300,747,2000").split(",")]

train = load_images(data, "train", labels="subcategory")
rng = np.random.default_rng(0)
chosen = np.sort(rng.choice(len(train), max(counts), replace=False))  # sorted: one cache entry per set
order = rng.permutation(len(chosen))  # each count takes a random subset, not the first styles
model = MaskGIT.load(model_path)


@torch.no_grad()
def through_tokenizer(images: torch.Tensor) -> np.ndarray:
    """(N, H, W, 3) uint8: the images encoded and decoded by the model's tokenizer, 64 at a time."""
    return np.concatenate(
        [to_uint8(model.tokenizer.reconstruct(images[i : i + 64])[0]) for i in range(0, len(images), 64)]
    )


tokenized = through_tokenizer(train.tensors(chosen).float())

extractor = InceptionFeatures()
test = load_images("emoji", "test", labels="subcategory")
assert test.class_names == train.class_names, "the two splits name their subcategories differently"
reference = cached_features(test.images, extractor, progress="Inception: test split")
rows, matches = [], {}
print(f"| real {data} training images | samples | FID | KID | precision | recall |")
print("|---|---|---|---|---|---|")
for name, pictures in (("as they are", train.images[chosen]), ("through the tokenizer", tokenized)):
    features = cached_features(pictures, extractor, progress=f"Inception: {name}")[order]
    matches[name] = class_match(reference, test.labels, features, train.labels[chosen][order])
    for n in counts:
        scores = score_features(features[:n], reference).as_dict()
        scores["precision"], scores["recall"] = precision_recall(reference, features[:n])
        rows.append({**scores, "set": name})
        print(
            f"| {name} | {n} | {scores['fid']:.2f} | {scores['kid']:.4f} | "
            f"{scores['precision']:.3f} | {scores['recall']:.3f} |"
        )
print(f"\n| real {data} training images | counted | recognised as their subcategory |")
print("|---|---|---|")
for name, (share, counted) in matches.items():
    print(f"| {name} | {counted} | {share:.1%} |")
test_tokenized = through_tokenizer(test.tensors().float())
copies = {
    name: near_duplicate_share(pictures, train.images)
    for name, pictures in (("as they are", test.images), ("through the tokenizer", test_tokenized))
}
print(f"\n| the {len(test)} test images | near-copies of a {data} training image |")
print("|---|---|")
for name, share in copies.items():
    print(f"| {name} | {share:.1%} |")
print(
    json.dumps(
        {
            "benchmark": "generation-floor",
            "model": model_path,
            "data": data,
            "rows": rows,
            "class_match": {k: v[0] for k, v in matches.items()},
            "test_near_copies": copies,
        }
    )
)
