"""`python -m edgejudge` is the `edgejudge` command."""

import sys

from edgejudge.launch import main

sys.exit(main())
