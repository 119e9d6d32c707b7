"""What the in-process runtime and llama-server must agree on to compute the same floats and
pick the same tokens, so that a verdict does not depend on the runtime: one place for both."""

from __future__ import annotations

# Sampler settings (llama-cpp-python's defaults); under temperature 0 only the greedy pick
# matters, and no repeat penalty is applied.
TOP_K, TOP_P, MIN_P = 40, 0.95, 0.05
REPEAT_PENALTY = 1.0
# How many recent tokens a repeat penalty looks at (llama.cpp's default, --repeat-last-n).
REPEAT_LAST_N = 64
# Prompt tokens per llama_decode, as llama-cpp-python's default (llama-server's -b and -ub).
N_BATCH = 512
# The context a judgment gets when neither the caller nor the catalog says.
DEFAULT_CONTEXT = 4096
# llama-server's flags for the in-process runtime's numerics: the same batch sizes, flash
# attention where the backend has it, and a full-size sliding-window cache; and no memory
# cache of other prompts' cells, which would put back cells server_cache.py never saw.
PARITY_ARGS = (
    "-fa", "auto", "-b", str(N_BATCH), "-ub", str(N_BATCH), "--swa-full", "--cache-ram", "0",
)  # fmt: skip
