"""What the repository holds: a lent GPU machine accepts a working tree of 64 MiB in all (tracked files and the
folders carried beside them, such as scripts/gpu-prepare.sh's data), so the tracked files leave room for those."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TRACKED_LIMIT = 37 * 1024 * 1024  # 64 MiB less gpu/ of scripts/gpu-prepare.sh (four styles' caches + wheels: 26.5 MiB)


def test_the_tracked_files_leave_room_for_what_a_gpu_run_carries():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    sizes = {name: (ROOT / name).stat().st_size for name in names.decode().split("\0") if (ROOT / name).is_file()}
    largest = sorted(sizes, key=sizes.get, reverse=True)[:3]
    total = sum(sizes.values())
    assert total <= TRACKED_LIMIT, f"tracked: {total / 2**20:.1f} MiB, largest {largest}: see legs/README.md"


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_committed_config_loads_and_builds_its_model(path):
    from maskgit.tokenizer.config import TokenizerConfig
    from maskgit.training.config import TokenizerTrainConfig, TransformerTrainConfig, load_train_config

    if path.name.startswith("tokenizer-"):
        load_train_config(TokenizerTrainConfig, path).tokenizer_config()
    else:  # the model's own fields over its preset (the codebook's size comes from the tokenizer file)
        load_train_config(TransformerTrainConfig, path).transformer_config(TokenizerConfig.preset("emoji"))
