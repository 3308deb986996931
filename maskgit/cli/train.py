"""Training both stages: `maskgit train-tokenizer` and `maskgit train` (torchrun-ready)."""

from __future__ import annotations

import argparse


def cmd_train(args: argparse.Namespace) -> None:
    """Both stages: `maskgit train` (transformer) and `maskgit train-tokenizer`."""
    from maskgit.training.config import TokenizerTrainConfig, TransformerTrainConfig, load_train_config
    from maskgit.training.runtime import stop_runtime

    if args.command == "train-tokenizer":
        from maskgit.training.tokenizer_trainer import TokenizerTrainer as Trainer

        config = load_train_config(TokenizerTrainConfig, args.config, args.set)
    else:
        from maskgit.training.transformer_trainer import TransformerTrainer as Trainer  # type: ignore[assignment]

        config = load_train_config(TransformerTrainConfig, args.config, args.set)  # type: ignore[assignment]
    try:
        trainer = Trainer(config, resume=args.resume, progress=not args.no_progress)  # type: ignore[arg-type]
        path = trainer.fit()
        if trainer.runtime.is_main:
            print(f"trained {trainer.step} steps; model: {path}")
    finally:
        stop_runtime()


def _add_training_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="a YAML file from configs/ (or your own)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    p.add_argument("--resume", action="store_true", help="continue the run in out_dir from its last checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-tokenizer", help="train the VQGAN tokenizer (stage 1); torchrun-ready")
    _add_training_arguments(p)
    p.set_defaults(run=cmd_train)
    p = sub.add_parser("train", help="train the transformer (stage 2) on a tokenizer's tokens; torchrun-ready")
    _add_training_arguments(p)
    p.set_defaults(run=cmd_train)
