"""Writing files so that a crash never leaves half of one, and where maskgit keeps its cache."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from maskgit.errors import InputError

MANIFEST = "manifest.json"  # what marks an output folder as written by maskgit (and lists its results)


def umask_mode(mode: int) -> int:
    """`mode` less the process umask: the permissions open() or mkdir() would give a new file or folder."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call write(tmp_path), then rename tmp_path to path (atomic on POSIX); cleans up on failure, and removes
    what a killed writer of the same file left behind. The file gets the permissions of a plain new file (some
    writers, safetensors' among them, create theirs readable by the owner only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        pid = stale.name.rpartition("-")[2]
        if pid.isdigit() and not process_alive(int(pid)):
            stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.chmod(tmp, umask_mode(0o666))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def maskgit_home() -> Path:
    """The cache folder for data: $MASKGIT_HOME, else ~/.cache/maskgit."""
    return Path(os.environ.get("MASKGIT_HOME") or Path.home() / ".cache" / "maskgit")


def file_hash(path: Path, length: int = 16) -> str:
    """The first `length` hex digits of a file's SHA-256 (cache keys, model fingerprints)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


def check_separate(out: Path, inputs: list[Path]) -> None:
    """Refuse an output folder that is, holds, or lies inside one of the input folders."""
    target = Path(out).resolve()
    for folder in inputs:
        source = Path(folder).resolve()
        if target == source or source in target.parents or target in source.parents:
            raise InputError(
                f"--out {out} would write into the input folder {folder}: choose an output folder outside the inputs"
            )


def check_replaceable(out: Path) -> None:
    """Refuse an output folder that write_folder may not replace: a file, or a folder with files that no
    maskgit command wrote (no MANIFEST). Commands call it before their work, write_folder again at the end."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file: give a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise InputError(
            f"--out {out} holds files that maskgit did not write (no {MANIFEST}): choose a new or empty folder"
        )


def write_folder(out: Path, fill: Callable[[Path], object]) -> None:
    """Write a whole output folder at once: fill(tmp) writes into a new hidden sibling folder, which then
    replaces `out`. An interrupted run leaves `out` as it was.

    `out` may be missing, empty, or an earlier maskgit output (it holds MANIFEST): that one is replaced
    completely, so no old result stays beside the new ones. Any other folder is refused.
    """
    out = Path(out)
    check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.*.partial"):  # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        os.chmod(tmp, umask_mode(0o777))  # mkdtemp's folder is the owner's alone; `out` is a plain new folder
        fill(tmp)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
