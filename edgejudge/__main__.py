"""`python -m edgejudge` is the `edgejudge` command."""

import sys

from edgejudge.cli import main

sys.exit(main())
