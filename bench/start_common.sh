# shellcheck shell=bash
# What the Poolgate start scripts (bench/start-poolgate*.sh, the start-script interface of
# shared/bench/proxy/README.md) share. Sourced with the script's arguments,
#   . "$(dirname "$0")/start_common.sh" "$@"
# it checks them and PIDFILE, goes to the project root and sets DENO, RUN ($PROXY_RUNDIR or a
# temporary directory), asap_port (free now, for the embedded registrar) and backends (array).

[ $# -eq 2 ] || { echo "usage: PIDFILE=FILE $0 LISTEN_PORT BACKEND_PORT[,BACKEND_PORT...]" >&2; exit 2; }
: "${PIDFILE:?PIDFILE must be set}"
DENO="${DENO:-$(command -v deno)}"
RUN="${PROXY_RUNDIR:-$(mktemp -d)}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
IFS=, read -r -a backends <<<"$2"

# free_port: a TCP port free on 127.0.0.1 now (the kernel's pick, so two scripts do not collide).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
asap_port=$(free_port)

# pool_members POOL ASAP_PORT: how many pool elements the registrar on ASAP_PORT lists in POOL
# (0 while it does not answer).
pool_members() {
  "$DENO" run --allow-all main.ts resolve "$1" --registrar "127.0.0.1:$2" --items all 2>/dev/null |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin).get("poolElements", [])))' 2>/dev/null ||
    echo 0
}

# wait_for_pool LISTEN_PORT POOL ASAP_PORT COUNT PID...: 0 once LISTEN_PORT accepts connections
# AND the registrar lists COUNT pool elements in POOL; 1 when a PID exits first or after 200
# tries (each try runs `main.ts resolve`, so that is seconds, bounded).
wait_for_pool() {
  local listen="$1" pool="$2" asap="$3" count="$4" i pid
  shift 4
  for ((i = 0; i < 200; i++)); do
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null || return 1; done
    if (exec 3<>"/dev/tcp/127.0.0.1/$listen") 2>/dev/null && [ "$(pool_members "$pool" "$asap")" -ge "$count" ]; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}
