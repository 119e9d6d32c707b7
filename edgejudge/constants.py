"""Defaults and timeouts, in one place: every module that needs one reads it from here.

(Directories and environment variables live in `paths`.)
"""

from __future__ import annotations

# The real judge a trial model's verdicts point to (`edgejudge models pull` it).
FIRST_JUDGE = "flow-judge-v0.1"

# Tokens a judge may write: room for a paragraph of feedback and the verdict.
DEFAULT_MAX_TOKENS = 512
# The pytest plugin's judge writes less (a test suite waits for every answer) and, in-process,
# takes at most this context unless --edgejudge-ctx says otherwise.
PYTEST_MAX_TOKENS = 256
PYTEST_CONTEXT = 8192

# Requests in flight per serving engine that reports no slots of its own.
DEFAULT_CONCURRENCY = 8

# Seconds a server may go without a byte of an answer: a long prompt on a slow CPU takes a
# while, and the same bound holds for llama-server and every serving engine.
REQUEST_TIMEOUT = 600.0
# Seconds a server edgejudge starts may take to load its model: a big one from a slow disk.
STARTUP_TIMEOUT = 300.0
# Seconds to wait for the hub to answer a download's first request.
CONNECT_TIMEOUT = 10.0
