#!/usr/bin/env bash
# Set up (or refresh) .venv with the test extras, then run the whole test suite; then the
# DeepEval and Inspect tests in .venv-integrations, beside it.
#   bash scripts/test.sh            # everything, real-model tests included
#   bash scripts/test.sh -m "not model"   # only the fast tests (no llama.cpp model)
#   bash scripts/test.sh -m "not server"  # everything but the llama-server tests
# The first run builds llama-cpp-python from source (~9 minutes on 2 cores) and llama-server
# (~10 minutes); pip keeps the wheel in its cache and llama-server stays in edgejudge's
# cache, so later runs, fresh clones included, start in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${EDGEJUDGE_VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e '.[test,demo]'
# The reference packages the prompt tests compare against. --no-deps: its declared
# dependencies pull in Jupyter; the light ones it imports are in the test extra.
"$venv/bin/python" -m pip install --quiet --no-deps flow-judge==0.1.2 prometheus-eval==0.1.20
# xgrammar (the grammar engine of vLLM and SGLang), for tests/test_xgrammar.py. It imports
# torch: on Linux x86_64 the CPU-only build, not the default one that pulls in CUDA (GBs).
if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then
    "$venv/bin/python" -m pip install --quiet "xgrammar==0.2.8" "torch==2.13.0+cpu"
else
    "$venv/bin/python" -m pip install --quiet "xgrammar==0.2.8"
fi
# The real llama.cpp server the server-runtime tests start: built once from the same
# llama-cpp-python sdist into edgejudge's cache (~10 minutes on 2 cores), then reused. The
# build's output goes to stderr; stdout is the binary's path.
EDGEJUDGE_LLAMA_SERVER="$("$venv/bin/edgejudge" server build)"
export EDGEJUDGE_LLAMA_SERVER
# DeepEval and Inspect get a venv of their own: DeepEval pins click<8.4, which holds
# huggingface-hub at 1.x, and the core is tested with the versions it gets alone.
ivenv="${EDGEJUDGE_INTEGRATIONS_VENV:-.venv-integrations}"
[ -x "$ivenv/bin/python" ] || python3 -m venv "$ivenv"
"$ivenv/bin/python" -m pip install --quiet --upgrade pip
"$ivenv/bin/python" -m pip install --quiet -e '.[demo]' "pytest>=8" "deepeval==4.3.1" \
    "inspect-ai==0.3.285" "pyarrow==18.1.0" "pandas"
"$venv/bin/python" -m pytest --ignore=tests/test_integrations.py "$@"
# DeepEval's pins hold huggingface-hub at 1.x there (2.x in .venv): the downloads are tested
# under both majors the dependency range admits; so is the oldest pyarrow it admits (18), on
# the readers and writers (the `datasets` package, which writes the dataset folders those
# tests read, needs a newer one: they run in .venv).
EDGEJUDGE_EXPECT_HUB_MAJOR=1 EDGEJUDGE_EXPECT_PYARROW_MAJOR=18 "$ivenv/bin/python" -m pytest \
    tests/test_tables.py -k "not dataset" "$@"
EDGEJUDGE_EXPECT_HUB_MAJOR=1 exec "$ivenv/bin/python" -m pytest tests/test_integrations.py \
    tests/test_download.py tests/test_tui.py::test_models_tab_pulls_from_the_hub_with_progress "$@"
