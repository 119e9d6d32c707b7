"""The `edgejudge models ...` and `edgejudge doctor` commands: a shell over the store.

Registered on the main parser by `add_commands`; errors propagate to `cli.main`, which turns
them into one line and an exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from edgejudge.cli.args import positive_int
from edgejudge.cli.progress import download_bar, hash_bar
from edgejudge.core.formats import KNOWN_FAMILIES
from edgejudge.errors import CatalogError, ModelNotFoundError
from edgejudge.models.catalog import (
    FITS_WORDS,
    ModelEntry,
    check_model_name,
    entry_cells,
    find_entry,
    load_catalog,
    save_import,
)
from edgejudge.models.store import installed_path
from edgejudge.util.sizes import human_size

MODELS_EPILOG = """\
examples:
  edgejudge models list
  edgejudge models pull flow-judge-v0.1      # Ctrl-C is safe: the next pull resumes
  edgejudge models verify
  edgejudge models import ~/models/my-judge.Q5_K_M.gguf --name my-judge --family flow-judge

Offline: with HF_HUB_OFFLINE=1 or EDGEJUDGE_OFFLINE=1 nothing is downloaded; installed
models work and a missing one fails at once, saying so.
"""


def add_commands(commands: Any) -> None:
    """Add `models` and `doctor` to the main parser's subcommands."""
    models = commands.add_parser(
        "models",
        help="list, download, verify and remove judge models",
        description="Manage judge models: the built-in catalog, your own entries "
        "(models.toml in the config directory) and files you import.",
        epilog=MODELS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = models.add_subparsers(title="commands", metavar="COMMAND")

    listing = sub.add_parser("list", help="every catalog model: family, size, installed, fits")
    listing.add_argument("--json", action="store_true", help="one JSON object per model")
    listing.set_defaults(func=_cmd_list)

    pull = sub.add_parser(
        "pull",
        help="download a model (resumes an interrupted download)",
        description="Download a catalog model from the Hugging Face hub into edgejudge's "
        "cache, check its sha256, and keep it there. An interrupted pull keeps what it got; "
        "run it again to fetch only the rest. Gated models need `hf auth login` or HF_TOKEN.",
    )
    pull.add_argument("name", help="a catalog name (see `edgejudge models list`)")
    pull.add_argument("--force", action="store_true", help="download again even if installed")
    pull.add_argument("--no-progress", action="store_true", help="no progress bar")
    pull.set_defaults(func=_cmd_pull)

    path = sub.add_parser("path", help="print where an installed model's file is")
    path.add_argument("name")
    path.set_defaults(func=_cmd_path)

    remove = sub.add_parser(
        "rm",
        help="delete a downloaded model (an imported one is only unregistered)",
        description="Delete the files edgejudge wrote for a model in its cache folder (the "
        "model file, its checksum stamp, manifest and any partial download), then the folder "
        "if nothing else is in it. Files edgejudge did not write are never removed; an "
        "imported model's file is left where it is, only its registration goes.",
    )
    remove.add_argument("name")
    remove.set_defaults(func=_cmd_rm)

    verify = sub.add_parser("verify", help="re-hash installed models against their sha256")
    verify.add_argument("name", nargs="?", help="one model (default: every installed model)")
    verify.add_argument("--no-progress", action="store_true", help="no progress bar")
    verify.set_defaults(func=_cmd_verify)

    imp = sub.add_parser(
        "import",
        help="register a GGUF file you already have under a name",
        description="Register an existing GGUF file so that --model NAME finds it. The file "
        "stays where it is; its sha256 is recorded so `models verify` can check it later.",
    )
    imp.add_argument("file", type=Path, metavar="FILE.gguf")
    imp.add_argument("--name", required=True, help="the name to use with --model")
    imp.add_argument(
        "--family",
        required=True,
        choices=KNOWN_FAMILIES,
        help="the judge format it speaks (flow-judge for Flow-Judge and general models)",
    )
    imp.add_argument(
        "--ctx",
        type=positive_int,
        metavar="N",
        help="context length (default: the model's, at most 8192)",
    )
    imp.add_argument("--description", default="", help="one line for `models list`")
    imp.add_argument("--force", action="store_true", help="replace an earlier import of NAME")
    imp.add_argument("--no-progress", action="store_true", help="no progress bar")
    imp.set_defaults(func=_cmd_import)
    models.set_defaults(func=_cmd_list, json=False)

    doctor = commands.add_parser(
        "doctor",
        help="check the llama.cpp build, GPU, memory, disk and installed models",
        description="Report what llama.cpp was built with, whether it can use this machine's "
        "GPU (and the exact reinstall command when it cannot), cores, memory, free disk, and "
        "which models are installed and fit.",
    )
    doctor.set_defaults(func=_cmd_doctor)


# -- list, path, rm -----------------------------------------------------------------------


def _cmd_list(args: argparse.Namespace) -> int:
    from edgejudge.system import hardware
    from edgejudge.system.doctor import catalog_fits, model_need
    from edgejudge.system.memory import FIT_SHARE

    catalog = load_catalog()
    memory, available = hardware.total_memory(), hardware.available_memory()
    rows = []
    for entry in catalog.values():
        path = installed_path(entry)
        found = model_need(entry, entry.context_length, available=available, path=path)
        rows.append((entry, path, catalog_fits(entry, found, memory), found))
    if args.json:
        for entry, path, fits, found in rows:
            record = entry.model_dump(exclude_none=True)
            record.update(installed=str(path) if path else None, fits=fits)
            record["memory"] = None if found is None else {**asdict(found), "total": found.total}
            print(json.dumps(record))
        return 0
    table = [("NAME", "FAMILY", "KIND", "QUANT", "SIZE", "CONTEXT", "RAM", "INSTALLED", "FITS")]
    for entry, path, fits, found in rows:
        name, family, size, ram = entry_cells(entry, found.total if found else None)
        installed = "yes" if path else _partial_note(entry)
        table.append(
            (
                name,
                family,
                entry.kind,
                entry.quant or "-",
                size,
                f"{entry.context_length // 1024}k",
                ram,
                installed,
                FITS_WORDS[fits],
            )  # fmt: skip
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    notes = []
    if any(not e.confirmed for e, *_ in rows):
        notes.append("? source not confirmed on the hub (see `models.toml` note)")
    notes.append(
        "RAM: weights + KV cache at CONTEXT + buffers + prefix cache (`edgejudge doctor` "
        f"shows 4k and 8k); FITS: within {FIT_SHARE:.0%} of this machine's {human_size(memory)}"
    )
    print("\n" + "\n".join(notes))
    return 0


def _partial_note(entry: ModelEntry) -> str:
    from edgejudge.models.download import partial_bytes

    have = partial_bytes(entry)
    return f"partial {human_size(have)}" if have else "no"


def _cmd_path(args: argparse.Namespace) -> int:
    entry = find_entry(args.name)
    path = installed_path(entry)
    if path is None:
        raise ModelNotFoundError(
            f"model {entry.name!r} is not installed; "
            f"get it with: edgejudge models pull {entry.name}"
        )
    print(path)
    return 0


def _cmd_rm(args: argparse.Namespace) -> int:
    from edgejudge.models.store import remove

    entry = find_entry(args.name)
    path = installed_path(entry)
    removed = remove(entry)
    if entry.source == "path":
        print(f"unregistered {entry.name}; its file stays at {entry.path}")
    elif removed:
        from edgejudge.models.store import model_folder

        folder = model_folder(entry)
        left = " (it holds other files, which edgejudge did not write: left as they are)"
        print(
            f"removed {entry.name}: {', '.join(path.name for path in removed)} from {folder}"
            + (left if folder.exists() else "")
        )
    elif path is not None:
        print(
            f"{entry.name} is in the Hugging Face cache ({path}), which edgejudge leaves alone; "
            f"remove it with `hf cache` if you no longer need it"
        )
    else:
        print(f"{entry.name} is not installed; nothing to remove")
    return 0


# -- pull, verify, import -----------------------------------------------------------------


def _cmd_pull(args: argparse.Namespace) -> int:
    from edgejudge.models.download import partial_bytes, pull

    entry = find_entry(args.name)
    waiting = partial_bytes(entry)
    if waiting and not args.force:
        _say(f"resuming {entry.name}: {human_size(waiting)} already on disk")
    try:
        with download_bar(not args.no_progress, f"checking {entry.filename}") as (bar, check):
            result = pull(
                entry, force=args.force, tqdm_class=bar, on_verify=check, on_wait=_say_some
            )
    except KeyboardInterrupt:
        kept = partial_bytes(entry)
        _say(f"edgejudge: interrupted: {human_size(kept)} kept; run the same command to resume")
        return 130
    if result.already_installed:
        print(f"{entry.name} is already installed: {result.path}")
        return 0
    how = f"fetched {human_size(result.fetched)}"
    if result.resumed_from:
        how += f", resumed after {human_size(result.resumed_from)} from an earlier pull"
    checked = f"sha256 {result.sha256[:12]}… ok" if result.sha256 else "no sha256 to check"
    print(f"{entry.name}: {human_size(result.size)} ({how}; {checked}) -> {result.path}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from edgejudge.models.store import verify

    catalog = load_catalog()
    if args.name:
        entries = [find_entry(args.name, catalog)]
    else:
        entries = [e for e in catalog.values() if installed_path(e) is not None]
        if not entries:
            print("no models installed")
            return 0
    bad = 0
    for entry in entries:
        with hash_bar(f"hashing {entry.filename}", not args.no_progress) as progress:
            result = verify(entry, progress)
        if result.status == "ok":
            print(f"ok        {entry.name}  sha256 {result.actual}")
        elif result.status == "mismatch":
            bad += 1
            print(
                f"MISMATCH  {entry.name}  {result.path}: sha256 {result.actual}, expected "
                f"{result.expected}; fix with: edgejudge models pull {entry.name} --force"
            )
        elif result.status == "missing":
            bad += 1
            print(f"missing   {entry.name}  (edgejudge models pull {entry.name})")
        else:
            print(f"unknown   {entry.name}  no sha256 known for {result.path}")
    return 1 if bad else 0


def _cmd_import(args: argparse.Namespace) -> int:
    from edgejudge.models.store import sha256_file
    from edgejudge.runtime.gguf import read_gguf

    try:
        check_model_name(args.name)
    except ValueError as exc:
        raise CatalogError(f"--name: {exc}") from None
    catalog = load_catalog()
    existing = catalog.get(args.name)
    if existing is not None and not (existing.source == "path" and args.force):
        hint = " (add --force to replace your earlier import)" if existing.source == "path" else ""
        raise CatalogError(
            f"a model called {args.name!r} already exists; choose another --name{hint}"
        )
    path = args.file.expanduser().resolve()
    info = read_gguf(path)  # a missing, truncated or non-GGUF file fails here, clearly
    context = args.ctx or min(info.context_length or 8192, 8192)
    with hash_bar(f"hashing {path.name}", not args.no_progress) as progress:
        digest = sha256_file(path, progress)
    entry = ModelEntry(
        name=args.name,
        kind="gguf",
        family=args.family,
        source="path",
        path=str(path),
        sha256=digest,
        size=path.stat().st_size,
        quant=info.quant,
        context_length=context,
        description=args.description or f"imported {info.architecture} model",
    )
    where = save_import(entry)
    print(
        f"imported {args.name} -> {path} ({info.quant or 'unknown quant'}, "
        f"sha256 {digest[:12]}…; recorded in {where})"
    )
    return 0


def _cmd_doctor(_: argparse.Namespace) -> int:
    from edgejudge.errors import SetupError
    from edgejudge.system.doctor import examine, folder_problems, render

    problems = folder_problems()
    if problems:  # nothing else can be looked at until the folders can be used
        for problem in problems[1:]:
            print(f"! {problem}")
        raise SetupError(problems[0])
    print("\n".join(render(examine())))
    return 0


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def _say_some(text: str) -> None:
    """`_say`, except for the empty heartbeats `pull` sends while it waits."""
    if text:
        _say(text)
