"""Print every row of the sweep folders under a folder, one line each (the ablation scripts' summary).

With --spread, folders named ARM-seedK are taken as decoding seeds of one arm: each cell is printed once, as
the mean and sample standard deviation of FID over the seeds (maskgit.experiments.replications.summarise).

usage: python scripts/print-sweeps.py OUT [--spread]
"""

import re
import sys
from pathlib import Path

from maskgit.experiments.replications import summarise
from maskgit.experiments.report import sweep_rows

folders = sorted(p for p in Path(sys.argv[1]).iterdir() if (p / "results.jsonl").is_file())
if "--spread" not in sys.argv:
    for folder in folders:
        for r in sweep_rows(folder):
            print(f"{folder.name:<32} {r.name:<24} FID {r.fid:7.2f}  KID {r.kid:.4f}  masked PSNR {r.masked_psnr:5.2f}")
else:
    rows = []
    for folder in folders:
        arm = re.sub(r"-seed\d+$", "", folder.name)
        for r in sweep_rows(folder):
            if r.is_decode:
                rows.append((arm, r))
            else:
                print(f"{arm:<32} {r.name:<24} FID {r.fid:7.2f}  KID {r.kid:.4f}  masked PSNR {r.masked_psnr:5.2f}")
    for s in summarise(rows):
        cell = f"{s.schedule} T={s.steps} S={s.sweet_spot}"
        print(
            f"{s.arm:<32} {cell:<24} FID {s.fid:7.2f} +- {s.fid_std:.2f} over {len(s.fids)} seeds  "
            f"KID {s.kid:.4f}  masked PSNR {s.masked_psnr:5.2f}"
        )
