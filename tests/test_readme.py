import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_python_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python example"
    monkeypatch.chdir(tmp_path)  # the example saves a checkpoint in the working directory
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    assert (tmp_path / "tiny.safetensors").is_file()


def test_the_readme_has_exactly_two_setup_commands_and_ci_runs_the_second():
    text = README.read_text()
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", setup, flags=re.S)
    assert len(commands) == 2
    assert all("pip install torch==2.13.0" in c for c in commands)
    assert "<!-- ci: test command -->\n```bash\n" + commands[1] in setup
