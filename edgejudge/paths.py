"""Every directory edgejudge uses and every environment variable it reads, in one place.

Directories follow the platform's conventions (platformdirs) unless an environment variable
names another; nothing here creates them, but a folder that cannot be one (the variable names
a file, or a file stands where a folder above it should be) is refused here, in one line that
names the variable, before anything tries to write under it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from platformdirs import user_cache_dir, user_config_dir

from edgejudge.errors import SetupError

APP = "edgejudge"

CACHE_ENV = "EDGEJUDGE_CACHE_DIR"  # models, the llama-server build
CONFIG_ENV = "EDGEJUDGE_CONFIG_DIR"  # your models.toml, imports, metrics, TUI settings
OFFLINE_ENV = "EDGEJUDGE_OFFLINE"  # 1: never download (HF_HUB_OFFLINE=1 does the same)
SERVER_ENV = "EDGEJUDGE_LLAMA_SERVER"  # the llama-server binary to run
API_KEY_ENV = "EDGEJUDGE_API_KEY"  # the bearer token for --server-url
DEBUG_ENV = "EDGEJUDGE_DEBUG"  # 1: errors print their traceback too
AMX_ENV = "EDGEJUDGE_AMX"  # 1: let llama.cpp use its AMX kernels (see hardware.py)
HUB_OFFLINE_ENV = "HF_HUB_OFFLINE"  # huggingface_hub's own offline switch, honoured too

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


def env_flag(name: str) -> bool:
    """Whether the environment variable `name` is set on: 1, true, yes or on (any case)."""
    return os.environ.get(name, "").strip().lower() in TRUE_WORDS


def cache_dir() -> Path:
    """edgejudge's cache directory (`$EDGEJUDGE_CACHE_DIR` overrides the platform default)."""
    return _folder(CACHE_ENV, "cache", lambda: user_cache_dir(APP, appauthor=False))


def config_dir() -> Path:
    """edgejudge's config directory (`$EDGEJUDGE_CONFIG_DIR` overrides the platform default)."""
    return _folder(CONFIG_ENV, "config", lambda: user_config_dir(APP, appauthor=False))


def folder_problem(env: str) -> str | None:
    """Why the folder `env` (`CACHE_ENV` or `CONFIG_ENV`) chooses cannot be used, or None."""
    try:
        (cache_dir if env == CACHE_ENV else config_dir)()
    except SetupError as exc:
        return str(exc)
    return None


def _folder(env: str, what: str, default: Callable[[], str]) -> Path:
    override = os.environ.get(env)
    path = Path(override).expanduser() if override else Path(default())
    for step in (path, *path.parents):
        if not step.exists():
            continue
        if step.is_dir():
            return path
        where = "is a file" if step == path else f"cannot be made: {step} is a file"
        named = f"{env}={override}" if override else f"edgejudge's {what} folder {path}"
        fix = "point it at a folder, or unset it" if override else f"move {step} away, or set {env}"
        raise SetupError(f"{named} {where}, not a folder: {fix}")
    return path


def models_dir() -> Path:
    """Where edgejudge keeps the model files it downloads or assembles."""
    return cache_dir() / "models"


def metrics_dir() -> Path:
    """Where the user's own metrics live: `CONFIG/metrics/*.toml`."""
    return config_dir() / "metrics"
