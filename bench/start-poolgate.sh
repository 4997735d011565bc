#!/usr/bin/env bash
# start-poolgate.sh LISTEN_PORT BACKEND_PORT[,BACKEND_PORT...]
# `main.ts serve` as the proxy benchmarks run it: one listener for pool "bench", the backends as
# static DATA ONLY members (round robin) with failover=migrate. Start-script interface of
# shared/bench/proxy/README.md: runs in the background, logs to $PROXY_RUNDIR/poolgate.log, writes
# its PID to $PIDFILE and returns once the port accepts connections AND the registrar resolves
# the pool with every backend in it.
# Env: POOLGATE_LOG_LEVEL (warning: no access log, as the anchors write none | info),
#   POOLGATE_FAILOVER (migrate | sever), POOLGATE_FIN_PROBE (unless-done | if-unanswered | off),
#   POOLGATE_CHECK (connect | echo: a PING\n/PING check that also catches a SIGSTOPped backend),
#   DENO.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: PIDFILE=FILE $0 LISTEN_PORT BACKEND_PORT[,BACKEND_PORT...]" >&2; exit 2; }
: "${PIDFILE:?PIDFILE must be set}"
HERE="$(cd "$(dirname "$0")" && pwd)"
DENO="${DENO:-$(command -v deno)}"
RUN="${PROXY_RUNDIR:-$(mktemp -d)}"
cd "$HERE/.."
asap_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
IFS=, read -r -a backends <<<"$2"
args=(serve --asap "127.0.0.1:$asap_port" --no-admin --no-store --listen "127.0.0.1:$1=bench"
  --pool "bench:failover=${POOLGATE_FAILOVER:-migrate},fin-probe=${POOLGATE_FIN_PROBE:-unless-done}"
  --log-level "${POOLGATE_LOG_LEVEL:-warning}" --log-format json)
for port in "${backends[@]}"; do args+=(--member "bench=127.0.0.1:$port"); done
if [ "${POOLGATE_CHECK:-connect}" = echo ]; then args+=(--check-send 'PING\n' --check-expect PING); fi
"$DENO" run --allow-all main.ts "${args[@]}" </dev/null >"$RUN/poolgate.log" 2>&1 &
echo $! >"$PIDFILE"
members() {
  "$DENO" run --allow-all main.ts resolve bench --registrar "127.0.0.1:$asap_port" --items all 2>/dev/null |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin).get("poolElements", [])))' 2>/dev/null || echo 0
}
for ((i = 0; i < 200; i++)); do
  if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then break; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && [ "$(members)" -ge "${#backends[@]}" ]; then
    exit 0
  fi
  sleep 0.05
done
echo "start-poolgate.sh: poolgate did not serve pool bench with ${#backends[@]} members on $1" >&2
cat "$RUN/poolgate.log" >&2
exit 1
