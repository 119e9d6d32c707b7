"""Make judge-sized stand-in models: the real architecture and size, random weights.

The real judges (Flow-Judge, 3.8B; Selene-1-Mini, 8B) cannot be downloaded on the machines
edgejudge is developed on, yet speed and memory at their size decide its defaults. A
stand-in has the judge's architecture and every hyperparameter that sets its cost (layers,
width, heads, KV heads, feed-forward width, vocabulary), a real tokenizer and chat template,
and random weights, quantised to Q4_K_M by llama.cpp's own quantiser, as the catalog's
builds are. Random weights write nonsense: under the grammar every feedback runs to its
token budget and is closed out, the worst case for time. A stand-in never enters the catalog
and never stands for a judge's quality.

    python scripts/make_standin.py flow-judge-sized selene-sized   # prints the paths

The tokenizers and chat templates come from the llama-cpp-python sdist on PyPI (llama.cpp's
`models/ggml-vocab-*.gguf` and `models/templates/`), fetched with pip once; the stand-ins are
kept in edgejudge's cache (`<cache>/standins/`) with a JSON note of how each was made, and a
second run returns them at once. A file is written beside its final name and renamed when
complete, so a killed run leaves nothing that looks finished.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gguf
import llama_cpp
import numpy as np

from edgejudge.paths import cache_dir

Q8_0_BLOCK, Q8_0_BYTES = 32, 34  # values per block; bytes per block (an f16 scale + 32 int8)
WEIGHT_STD = 0.02  # the usual initialisation of a transformer's matrices
QUANTS = {"Q4_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M, "Q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0}


@dataclass(frozen=True)
class Spec:
    """One stand-in: the architecture, its hyperparameters, where its tokenizer comes from."""

    arch: str  # phi3 | llama
    stands_for: str
    layers: int
    width: int  # embedding length
    ffn: int  # feed-forward length
    heads: int
    kv_heads: int
    context: int  # the trained context the header declares
    rope_base: float
    vocab: str  # a GGUF in the sdist's llama.cpp/models, or a path to any GGUF
    template: str  # a file in llama.cpp/models/templates, or "" to keep the vocab file's

    @property
    def head_size(self) -> int:
        """The width of one attention head."""
        return self.width // self.heads


SPECS = {
    # Flow-Judge-v0.1 and Glider: Phi-3.5-mini-instruct (config.json: hidden 3072, 32 layers,
    # 32 heads and 32 KV heads, intermediate 8192, vocabulary 32064, 131072 positions).
    "flow-judge-sized": Spec(
        "phi3", "Flow-Judge-v0.1 / Glider (Phi-3.5-mini, 3.8B)", 32, 3072, 8192, 32, 32,
        131072, 10000.0, "ggml-vocab-phi-3.gguf", "microsoft-Phi-3.5-mini-instruct.jinja",
    ),
    # Selene-1-Mini: Llama-3.1-8B-Instruct (hidden 4096, 32 layers, 32 heads, 8 KV heads,
    # intermediate 14336, vocabulary 128256, 131072 positions, rope theta 500000).
    "selene-sized": Spec(
        "llama", "Selene-1-Mini (Llama-3.1-8B)", 32, 4096, 14336, 32, 8,
        131072, 500000.0, "ggml-vocab-llama-bpe.gguf", "meta-llama-Llama-3.1-8B-Instruct.jinja",
    ),
}  # fmt: skip


def tensors(spec: Spec, vocab_size: int) -> Iterator[tuple[str, tuple[int, ...]]]:
    """Each tensor's name and numpy shape (rows = outputs), in llama.cpp's names."""
    w, gqa = spec.width, spec.kv_heads * spec.head_size
    yield "token_embd.weight", (vocab_size, w)
    yield "output_norm.weight", (w,)
    yield "output.weight", (vocab_size, w)
    if spec.arch == "phi3":  # Phi-3.5's LongRoPE factors (all 1 here: plain RoPE)
        yield "rope_factors_long.weight", (spec.head_size // 2,)
        yield "rope_factors_short.weight", (spec.head_size // 2,)
    else:
        yield "rope_freqs.weight", (spec.head_size // 2,)
    for i in range(spec.layers):
        yield f"blk.{i}.attn_norm.weight", (w,)
        if spec.arch == "phi3":
            yield f"blk.{i}.attn_qkv.weight", (w + 2 * gqa, w)
        else:
            yield f"blk.{i}.attn_q.weight", (w, w)
            yield f"blk.{i}.attn_k.weight", (gqa, w)
            yield f"blk.{i}.attn_v.weight", (gqa, w)
        yield f"blk.{i}.attn_output.weight", (w, w)
        yield f"blk.{i}.ffn_norm.weight", (w,)
        if spec.arch == "phi3":
            yield f"blk.{i}.ffn_up.weight", (2 * spec.ffn, w)  # gate and up, fused
        else:
            yield f"blk.{i}.ffn_gate.weight", (spec.ffn, w)
            yield f"blk.{i}.ffn_up.weight", (spec.ffn, w)
        yield f"blk.{i}.ffn_down.weight", (w, spec.ffn)


def q8_0_random(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random matrix already in Q8_0 blocks (no float copy is ever made): std WEIGHT_STD."""
    rows, cols = shape
    blocks = np.empty((rows, cols // Q8_0_BLOCK, Q8_0_BYTES), dtype=np.uint8)
    # int8 drawn uniformly from [-127, 127] has a standard deviation of about 73.6.
    scale = np.array([WEIGHT_STD / 73.6], dtype=np.float16).view(np.uint8)
    blocks[:, :, :2] = scale
    values = rng.integers(-127, 128, size=(rows, cols // Q8_0_BLOCK, 32), dtype=np.int8)
    blocks[:, :, 2:] = values.view(np.uint8)
    return blocks.reshape(rows, -1)


def tokenizer_fields(vocab: Path) -> dict[str, Any]:
    """The `tokenizer.*` keys of a GGUF file, as Python values."""
    reader = gguf.GGUFReader(vocab)
    fields = reader.fields.items()
    return {name: field.contents() for name, field in fields if name.startswith("tokenizer.")}


def write_q8_0(spec: Spec, vocab: Path, template: str | None, seed: int, out: Path) -> None:
    """Write the stand-in with random Q8_0 weights, tensor by tensor (bounded memory)."""
    fields = tokenizer_fields(vocab)
    vocab_size = len(fields["tokenizer.ggml.tokens"])
    writer = gguf.GGUFWriter(out, spec.arch)
    writer.add_name(f"edgejudge stand-in for {spec.stands_for} (random weights)")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_block_count(spec.layers)
    writer.add_context_length(spec.context)
    writer.add_embedding_length(spec.width)
    writer.add_feed_forward_length(spec.ffn)
    writer.add_head_count(spec.heads)
    writer.add_head_count_kv(spec.kv_heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(spec.head_size)
    writer.add_rope_freq_base(spec.rope_base)
    writer.add_vocab_size(vocab_size)
    if spec.arch == "phi3":
        writer.add_rope_scaling_orig_ctx_len(4096)
    for name, value in fields.items():
        if name == "tokenizer.chat_template" and template is not None:
            continue
        add_field(writer, name, value)
    if template is not None:
        writer.add_chat_template(template)
    shapes = list(tensors(spec, vocab_size))
    for name, shape in shapes:
        if len(shape) == 1:
            writer.add_tensor_info(name, shape, np.dtype(np.float32), shape[0] * 4)
        else:
            nbytes = shape[0] * shape[1] // Q8_0_BLOCK * Q8_0_BYTES
            byte_shape = (shape[0], shape[1] // Q8_0_BLOCK * Q8_0_BYTES)
            q8_0 = gguf.GGMLQuantizationType.Q8_0
            writer.add_tensor_info(name, byte_shape, np.dtype(np.uint8), nbytes, q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    rng = np.random.default_rng(seed)
    for _name, shape in shapes:
        data = np.ones(shape, dtype=np.float32) if len(shape) == 1 else q8_0_random(shape, rng)  # type: ignore[arg-type]
        writer.write_tensor_data(data)
    writer.close()


def add_field(writer: gguf.GGUFWriter, name: str, value: Any) -> None:
    """Copy one tokenizer key with the type gguf-py gives it."""
    if name in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges"):
        writer.add_array(name, list(value))
    elif name == "tokenizer.ggml.scores":
        writer.add_array(name, [float(v) for v in value])
    elif name == "tokenizer.ggml.token_type":
        writer.add_array(name, [int(v) for v in value])
    elif isinstance(value, bool):
        writer.add_bool(name, value)
    elif isinstance(value, int):
        writer.add_uint32(name, value)
    elif isinstance(value, str):
        writer.add_string(name, value)
    else:
        raise SystemExit(f"tokenizer key {name} has an unexpected value: {type(value).__name__}")


def quantize(source: Path, out: Path, quant: str, threads: int) -> None:
    """Requantise with llama.cpp's own quantiser (llama_model_quantize), as `llama-quantize`."""
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTS[quant]
    params.allow_requantize = True
    params.nthread = threads
    if llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), params) != 0:
        raise SystemExit(f"llama.cpp could not quantise {source} to {quant}")


def sdist_files(folder: Path, names: list[str]) -> dict[str, Path]:
    """The named files of llama.cpp's models/ folder, from the llama-cpp-python sdist (kept)."""
    wanted = {name: folder / Path(name).name for name in names}
    missing = [name for name, path in wanted.items() if not path.is_file()]
    if missing:
        folder.mkdir(parents=True, exist_ok=True)
        version = llama_cpp.__version__
        with tempfile.TemporaryDirectory(prefix="edgejudge-standin-") as temp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
                 ":all:", "--dest", temp, f"llama-cpp-python=={version}"], check=True,
            )  # fmt: skip
            [sdist] = Path(temp).glob("llama_cpp_python-*.tar.gz")
            with tarfile.open(sdist) as archive:
                prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/models/"
                for name in missing:
                    member = archive.extractfile(prefix + name)
                    if member is None:
                        raise SystemExit(f"the sdist has no models/{name}")
                    wanted[name].write_bytes(member.read())
    return wanted


def make(name: str, spec: Spec, folder: Path, quant: str, seed: int, threads: int) -> Path:
    """The stand-in's path: made if it is not already in `folder`."""
    out = folder / f"{name}-{quant}.gguf"
    if out.is_file():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    if Path(spec.vocab).is_file():
        vocab, template_path = Path(spec.vocab), None
    else:
        wanted = [spec.vocab] + ([f"templates/{spec.template}"] if spec.template else [])
        files = sdist_files(folder / "sources", wanted)
        vocab = files[spec.vocab]
        template_path = files.get(f"templates/{spec.template}")
    template = template_path.read_text(encoding="utf-8") if template_path else None
    started = time.monotonic()
    q8 = out.with_name(out.name + ".q8_0.part")
    part = out.with_name(out.name + ".part")
    try:
        write_q8_0(spec, vocab, template, seed, q8)
        if quant == "Q8_0":
            os.replace(q8, part)
        else:
            quantize(q8, part, quant, threads)
        note = {
            "spec": asdict(spec), "quant": quant, "seed": seed,
            "llama_cpp_python": llama_cpp.__version__,
            "seconds": round(time.monotonic() - started, 1), "bytes": part.stat().st_size,
        }  # fmt: skip
        out.with_suffix(".json").write_text(json.dumps(note, indent=2) + "\n", encoding="utf-8")
        os.replace(part, out)
    finally:
        q8.unlink(missing_ok=True)
        part.unlink(missing_ok=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="+", choices=sorted(SPECS), help="which stand-ins to make")
    parser.add_argument("--quant", default="Q4_K_M", choices=sorted(QUANTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--folder", type=Path, help="where to keep them (<cache>/standins)")
    args = parser.parse_args()
    folder = args.folder or cache_dir() / "standins"
    for name in args.names:
        print(make(name, SPECS[name], folder, args.quant, args.seed, args.threads))


if __name__ == "__main__":
    main()
