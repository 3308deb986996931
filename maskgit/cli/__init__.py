"""The `maskgit` command line, one module per user task: models (presets, inspect), data, train, infer
(inpaint, generate), evaluate (fid, tokenizer-metrics), experiments (sweep, demo, report), data and app (the
inpainting page).

Library errors become one-line messages (exit 2), never tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from maskgit import __version__
from maskgit.cli import app, data, evaluate, experiments, infer, models, train
from maskgit.errors import MaskGitError
from maskgit.training.runtime import keep_freed_memory

TASKS = (models, train, infer, evaluate, experiments, data, app)  # the order of `maskgit --help`


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (which command, what is wrong, where help is), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings (skipped files, ...) as one line on stderr, like the errors."""
    print(f"maskgit: warning: {message}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="maskgit", description="Masked generative image modeling (MaskGIT).")
    parser.add_argument("--version", action="version", version=f"maskgit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for task in TASKS:
        task.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error (one line, OneLineParser)
        return int(exit_.code or 0)
    keep_freed_memory()  # every command's big CPU temporaries reuse mapped pages (FID features: ~7% faster)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = one_line_warning
            args.run(args)
    except MaskGitError as error:
        print(f"maskgit: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter from failing at exit
        return 0
    except KeyboardInterrupt:
        print("maskgit: interrupted", file=sys.stderr)
        return 130
    except OSError as error:  # a file cannot be read or written, a full disk, ...: what the system said
        where = f": {error.filename}" if error.filename is not None else ""
        print(f"maskgit: error: {error.strerror or error}{where} (nothing written was left half-done)", file=sys.stderr)
        return 2
    return 0
