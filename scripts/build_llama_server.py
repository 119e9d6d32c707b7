"""Build llama.cpp's `llama-server` from the llama-cpp-python sdist; print its path.

The same as `edgejudge server build` (see edgejudge/runtime/llama_server/build.py), kept for
scripts/test.sh and source checkouts:

    python scripts/build_llama_server.py          # prints the binary's path
    python scripts/build_llama_server.py --force  # build again
"""

from __future__ import annotations

import sys

from edgejudge.cli import main

if __name__ == "__main__":
    sys.exit(main(["server", "build", *sys.argv[1:]]))
