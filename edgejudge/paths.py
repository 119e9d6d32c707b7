"""Every directory edgejudge uses and every environment variable it reads, in one place.

Directories follow the platform's conventions (platformdirs) unless an environment variable
names another; nothing here creates them.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir, user_config_dir

APP = "edgejudge"

CACHE_ENV = "EDGEJUDGE_CACHE_DIR"  # models, the llama-server build
CONFIG_ENV = "EDGEJUDGE_CONFIG_DIR"  # your models.toml, imports, metrics, TUI settings
OFFLINE_ENV = "EDGEJUDGE_OFFLINE"  # 1: never download (HF_HUB_OFFLINE=1 does the same)
SERVER_ENV = "EDGEJUDGE_LLAMA_SERVER"  # the llama-server binary to run
API_KEY_ENV = "EDGEJUDGE_API_KEY"  # the bearer token for --server-url
DEBUG_ENV = "EDGEJUDGE_DEBUG"  # 1: errors print their traceback too
AMX_ENV = "EDGEJUDGE_AMX"  # 1: let llama.cpp use its AMX kernels (see hardware.py)


def cache_dir() -> Path:
    """edgejudge's cache directory (`$EDGEJUDGE_CACHE_DIR` overrides the platform default)."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path(user_cache_dir(APP, appauthor=False))


def config_dir() -> Path:
    """edgejudge's config directory (`$EDGEJUDGE_CONFIG_DIR` overrides the platform default)."""
    override = os.environ.get(CONFIG_ENV)
    return Path(override) if override else Path(user_config_dir(APP, appauthor=False))


def models_dir() -> Path:
    """Where edgejudge keeps the model files it downloads or assembles."""
    return cache_dir() / "models"


def metrics_dir() -> Path:
    """Where the user's own metrics live: `CONFIG/metrics/*.toml`."""
    return config_dir() / "metrics"
