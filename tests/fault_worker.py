"""Run a maskgit command with one fault injected (tests/test_fault_injection.py starts it as a process):

    python tests/fault_worker.py MODULE:ATTRIBUTE[.METHOD] N FAULT -- maskgit arguments...

The named function is wrapped: its N-th call first sends FAULT (SIGKILL, SIGINT) to this process, or raises
FAULT = ENOSPC (a full disk) in its place. The exit code is maskgit's (or the signal's).
"""

import errno
import functools
import importlib
import os
import signal
import sys

from maskgit.cli import main


def inject(target: str, nth: int, fault: str) -> None:
    module_name, _, attribute = target.partition(":")
    owner = importlib.import_module(module_name)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    calls = 0

    @functools.wraps(original)
    def faulty(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == nth:
            if fault == "ENOSPC":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.kill(os.getpid(), getattr(signal, fault))
        return original(*args, **kwargs)

    setattr(owner, name, faulty)


if __name__ == "__main__":
    # Ctrl+C raises KeyboardInterrupt even when the test run was started in the background (a shell starts
    # background jobs with SIGINT ignored, and Python then keeps it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    target, nth, fault, separator, *arguments = sys.argv[1:]
    assert separator == "--", "usage: fault_worker.py TARGET N FAULT -- ARGS"
    inject(target, int(nth), fault)
    sys.exit(main(arguments))
