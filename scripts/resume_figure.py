"""Show that an interrupted `edgejudge models pull` resumes: bytes on the first and second try.

Serves the demo GGUF (253 MB) from a local server that speaks the Hugging Face hub's resolve
protocol (tests/support/hub_server.py), starts a real download process, presses Ctrl-C (SIGINT)
part-way, then downloads again, and prints what the server sent each time: first for
huggingface_hub's own `hf download` (the baseline), then for `edgejudge models pull`.

    python scripts/resume_figure.py [--stop-at-mb 150]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgejudge.models.resolve import resolve  # noqa: E402
from tests.support.hub_server import FakeHub, start  # noqa: E402

REPO = "edgejudge-demo/gemma-3-270m-GGUF"


def attempt_twice(command: list[str], env: dict[str, str], hub: FakeHub, stop: int) -> list[str]:
    """Run `command`, Ctrl-C it when the server stalls at `stop` bytes, run it again."""
    hub.served.clear()
    hub.release.clear()
    hub.stalled.clear()
    hub.stall_after = stop
    first = subprocess.Popen(
        command, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    if not hub.stalled.wait(120):
        raise SystemExit(f"{command[0]} never reached the stall point")
    time.sleep(1)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=60)
    hub.release.set()
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    one, two = hub.served[0], hub.served[-1]
    last = (err.strip().splitlines() or [""])[-1]
    return [
        f"  try 1: server sent {one.sent:,} bytes from offset {one.start:,}; Ctrl-C -> exit "
        f"{first.returncode}: {last[:110]}",
        f"  try 2: server sent {two.sent:,} bytes from offset {two.start:,}; exit "
        f"{second.returncode}",
        f"  total over the wire: {one.sent + two.sent:,} bytes",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stop-at-mb", type=int, default=150, help="where the server stalls")
    args = parser.parse_args()
    data = resolve("demo").path.read_bytes()
    hub = FakeHub()
    hub.add(REPO, "gemma.gguf", data)
    server, url = start(hub)
    stop = args.stop_at_mb * 1_000_000
    print(f"file: {len(data):,} bytes (the demo GGUF); the server stalls at {stop:,}")
    with tempfile.TemporaryDirectory() as home:
        config = Path(home, "config")
        config.mkdir()
        (config / "models.toml").write_text(
            f'[models.gemma-hub]\nkind = "gguf"\nfamily = "flow-judge"\n'
            f'source = "huggingface"\nrepo = "{REPO}"\nfile = "gemma.gguf"\n'
        )
        env = {
            **os.environ,
            "HF_ENDPOINT": url,
            "HF_HOME": str(Path(home, "hf")),
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "EDGEJUDGE_CACHE_DIR": str(Path(home, "cache")),
            "EDGEJUDGE_CONFIG_DIR": str(config),
        }
        env.pop("HF_HUB_OFFLINE", None)
        hf = Path(sys.executable).with_name("hf")
        print("hf download (huggingface_hub alone):")
        print("\n".join(attempt_twice([str(hf), "download", REPO, "gemma.gguf"], env, hub, stop)))
        pull = [sys.executable, "-m", "edgejudge", "models", "pull", "gemma-hub", "--no-progress"]
        print("edgejudge models pull:")
        # A fresh Hugging Face cache, or edgejudge would find hf's copy and fetch nothing.
        env["HF_HOME"] = str(Path(home, "hf-2"))
        print("\n".join(attempt_twice(pull, env, hub, stop)))
    server.shutdown()


if __name__ == "__main__":
    main()
