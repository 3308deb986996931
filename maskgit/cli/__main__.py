"""`python -m maskgit.cli ...` (what torchrun runs): the same as the `maskgit` command."""

import sys

from maskgit.cli import main

sys.exit(main())
