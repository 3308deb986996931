"""Print every row of the sweep folders under a folder, one line each (the ablation scripts' summary).

usage: python scripts/print-sweeps.py OUT
"""

import sys
from pathlib import Path

from maskgit.experiments.report import sweep_rows

for folder in sorted(p for p in Path(sys.argv[1]).iterdir() if (p / "results.jsonl").is_file()):
    for r in sweep_rows(folder):
        print(f"{folder.name:<32} {r.name:<24} FID {r.fid:7.2f}  KID {r.kid:.4f}  masked PSNR {r.masked_psnr:5.2f}")
