import subprocess
import sys

from maskgit.cli import main


def test_presets_lists_every_preset_with_its_size(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in ("lab", "emoji", "grey32", "tiny", "base"):
        assert name in out
    assert "72.75 M" in out  # the seeds' transformer


def test_inspect_shows_the_configs(tiny_model, tmp_path, capsys):
    path = tmp_path / "model.safetensors"
    tiny_model.save(path)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "format 1" in out and "codebook_size = 32" in out


def test_bad_input_is_one_line_on_stderr_with_exit_code_2(tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint at all")
    for target in (tmp_path / "missing.safetensors", broken):
        run = subprocess.run(
            [sys.executable, "-m", "maskgit.cli", "inspect", str(target)], capture_output=True, text=True
        )
        assert run.returncode == 2
        assert run.stdout == ""
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("maskgit: error: ")
