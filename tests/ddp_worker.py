"""Run under torchrun by tests/test_training.py: train, then report this rank's weights and writes.

torchrun --standalone --nproc_per_node=2 tests/ddp_worker.py REPORT_DIR KEY=VALUE ...
"""

import hashlib
import json
import sys
from pathlib import Path

from maskgit.training import state as states
from maskgit.training.config import TokenizerTrainConfig, TransformerTrainConfig, load_train_config
from maskgit.training.runtime import stop_runtime
from maskgit.training.tokenizer_trainer import TokenizerTrainer
from maskgit.training.transformer_trainer import TransformerTrainer

STAGES = {
    "transformer": (TransformerTrainConfig, TransformerTrainer),
    "tokenizer": (TokenizerTrainConfig, TokenizerTrainer),
}


def main() -> None:
    report_dir = Path(sys.argv[1])
    config_type, trainer_type = STAGES[sys.argv[2]]
    config = load_train_config(config_type, None, sys.argv[3:])
    saves = []
    original_save = states.save_state

    def counting_save(*args, **kwargs):
        saves.append(1)
        return original_save(*args, **kwargs)

    states.save_state = counting_save
    trainer = trainer_type(config, progress=False)
    trainer.fit()
    digest = hashlib.sha256()
    for name, tensor in sorted(trainer.model.state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
    report = {"digest": digest.hexdigest(), "step": trainer.step, "state_saves": len(saves)}
    (report_dir / f"rank{trainer.runtime.rank}.json").write_text(json.dumps(report))
    stop_runtime()


if __name__ == "__main__":
    main()
