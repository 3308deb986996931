"""A sweep's results: one typed row per scored method (a decoding cell or a baseline), a line of
results.jsonl each, and the rules every table, figure and report reads them by.

The T = 1 cell stands in for one-step decoding (baseline_rows) and the best cell is the lowest FID
(best_decode): both rules live here only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Literal

from maskgit.evaluation.baselines import BASELINES

Kind = Literal["decode", "baseline"]


def cell_key(schedule: str, steps: int, sweet_spot: int) -> str:
    """A decoding cell's key: SCHEDULE-TN-SM, e.g. square-T8-S8."""
    return f"{schedule}-T{steps}-S{sweet_spot}"


@dataclass(frozen=True)
class ResultRow:
    key: str  # a decoding cell's cell_key, or a baseline id (maskgit.evaluation.baselines.BASELINES)
    kind: Kind
    fid: float
    kid: float
    kid_std: float
    images: int  # how many images were scored
    masked_l1: float  # mean absolute error inside the holes, on a 0-1 scale
    masked_psnr: float  # dB, inside the holes
    schedule: str = ""  # decoding cells (and raw, which is one's whole decoder output)
    steps: int = 0  # T; 1 for one-step decoding, 0 for baselines that do not decode
    sweet_spot: int = 0  # S <= T: the step whose predictions are returned
    remaining: float | None = None  # decoding cells: fraction of the unknown tokens still masked at S
    seconds: float | None = None  # decoding cells: the decode's wall time (every sweet spot of it)
    images_per_s: float | None = None
    note: str = ""
    cell: str = ""  # a row derived from a decoding cell (one-step from T = 1) names it: its samples are that cell's

    @property
    def is_decode(self) -> bool:
        return self.kind == "decode"

    @property
    def name(self) -> str:
        """How tables name the row: the baseline's name, or SCHEDULE T= S= for a decoding cell."""
        if self.kind == "baseline":
            return BASELINES[self.key].name
        return f"{self.schedule} T={self.steps} S={self.sweet_spot}"

    @property
    def samples_key(self) -> str:
        """Whose saved sample images show this row (SweepFolder.samples)."""
        return self.cell or self.key

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v not in ("", None)})

    @classmethod
    def from_json(cls, line: str) -> ResultRow:
        """A results.jsonl line; raises ValueError when it is not a whole row (a line cut short by a crash)."""
        try:
            data = json.loads(line)
            known = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in data.items() if k in known})
        except (json.JSONDecodeError, TypeError) as error:
            raise ValueError(f"not a result row: {line[:80]!r}") from error


COLUMNS = [f.name for f in fields(ResultRow) if f.name != "cell"]  # results.csv, in this order


def sort_rows(rows: list[ResultRow]) -> list[ResultRow]:
    """Decoding cells by schedule, steps and sweet spot, then the baselines in the order they ran."""
    decode = sorted((r for r in rows if r.is_decode), key=lambda r: (r.schedule, r.steps, r.sweet_spot))
    return decode + [r for r in rows if not r.is_decode]


def best_decode(rows: list[ResultRow]) -> ResultRow | None:
    """The decoding cell with the lowest FID."""
    decode = [r for r in rows if r.is_decode]
    return min(decode, key=lambda r: r.fid) if decode else None


def baseline_rows(rows: list[ResultRow]) -> list[ResultRow]:
    """The baselines, with the T = 1 decoding cell standing in for one-step decoding when the sweep has it
    (the derived row names the cell, whose samples it shares)."""
    out = [r for r in rows if not r.is_decode]
    if not any(r.key == "one-step" for r in out):
        one = [r for r in rows if r.is_decode and r.steps == 1]
        if one:
            derived = replace(one[0], kind="baseline", key="one-step", cell=one[0].key, note=BASELINES["one-step"].note)
            out.insert(0, derived)
    return out


def fid_grid(rows: list[ResultRow]) -> tuple[list[str], list[int], dict[tuple[str, int], float]]:
    """Schedules x steps FID at the full sweet spot (S = T); T = 1 is shared by every schedule."""
    full = [r for r in rows if r.is_decode and r.sweet_spot == r.steps]
    schedules = list(dict.fromkeys(r.schedule for r in full))
    steps = sorted({r.steps for r in full})
    grid = {(r.schedule, r.steps): r.fid for r in full}
    for r in full:
        if r.steps == 1:
            grid.update({(s, 1): r.fid for s in schedules})
    return schedules, steps, grid


def early_stops(rows: list[ResultRow]) -> list[ResultRow]:
    """Decoding cells that stop before their last step (S < T)."""
    return [r for r in rows if r.is_decode and r.sweet_spot < r.steps]
