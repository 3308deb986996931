"""The generation ablation's table and figure from its folders (scripts/ablate-generation.sh): one row per
setting with FID mean and spread over decoding seeds, KID, precision, recall, near-duplicates and the class
match (where the scores have it: a class-conditional model scored on data with its classes), and
fid-vs-guidance.png (FID and KID against the guidance scale of the settings that differ from the preset only in it).

usage: python scripts/generation-table.py OUT
"""

import json
import re
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

out = Path(sys.argv[1])
settings: dict[str, list[dict]] = {}
for folder in sorted(out.iterdir()):
    if (folder / "scores.json").is_file():
        name = re.sub(r"-seed\d+$", "", folder.name)
        scores = json.loads((folder / "scores.json").read_text())
        scores["flags"] = json.loads((folder / "manifest.json").read_text())["decode"]
        settings.setdefault(name, []).append(scores)


def mean(runs: list[dict], key: str) -> float:
    return statistics.fmean(r[key] for r in runs)


def class_match(runs: list[dict]) -> str:
    return f"{mean(runs, 'class_match'):.1%}" if all("class_match" in r for r in runs) else "-"


print("| setting | seeds | FID | KID | precision | recall | near-duplicates | class match |")
print("|---|---|---|---|---|---|---|---|")
for name, runs in settings.items():
    fids = [r["fid"] for r in runs]
    spread = f" ± {statistics.stdev(fids):.2f}" if len(fids) > 1 else ""
    print(
        f"| {name} | {len(runs)} | {statistics.fmean(fids):.2f}{spread} | {mean(runs, 'kid'):.4f} | "
        f"{mean(runs, 'precision'):.3f} | {mean(runs, 'recall'):.3f} | {mean(runs, 'near_duplicates'):.1%} | "
        f"{class_match(runs)} |"
    )


def but_guidance(flags: dict) -> dict:
    return {k: v for k, v in flags.items() if k != "cfg_scale"}


preset = but_guidance(settings.get("preset", [{"flags": {}}])[0]["flags"])
by_scale: dict[float, list[dict]] = {}  # one point a scale (the preset and its named twin decode alike)
for runs in settings.values():
    if but_guidance(runs[0]["flags"]) == preset:
        by_scale.setdefault(runs[0]["flags"]["cfg_scale"], runs)
guidance = sorted(by_scale.items())
if len(guidance) > 1:
    scales = [g for g, _ in guidance]
    figure, axes = plt.subplots(1, 2, figsize=(8, 3.2), dpi=120)
    for axis, key, label in zip(axes, ("fid", "kid"), ("FID", "KID"), strict=True):
        values = [[r[key] for r in runs] for _, runs in guidance]
        spread = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in values]
        axis.errorbar(scales, [statistics.fmean(v) for v in values], yerr=spread, marker="o", capsize=3)
        axis.set_xlabel("classifier-free guidance scale")
        axis.set_ylabel(f"generation {label} (lower is better)")
        axis.grid(alpha=0.3)
    samples, seeds = guidance[0][1][0]["images"], len(guidance[0][1])
    figure.suptitle(f"{samples} samples a seed, {seeds} seeds (mean ± spread), against the test split", fontsize=9)
    figure.tight_layout()
    figure.savefig(out / "fid-vs-guidance.png")
    print(f"figure: {out / 'fid-vs-guidance.png'}")
print(json.dumps({name: round(statistics.fmean(r["fid"] for r in runs), 2) for name, runs in settings.items()}))
