#!/usr/bin/env bash
# start-poolgate.sh LISTEN_PORT BACKEND_PORT[,BACKEND_PORT...]
# Poolgate's session proxy, round robin over the backends as static DATA ONLY members of one
# pool with failover=migrate. Start-script interface of shared/bench/proxy/README.md: runs in
# the background, logs to $PROXY_RUNDIR/poolgate.log, writes its PID to $PIDFILE and returns
# once LISTEN_PORT accepts connections.
# Env (see bench/proxy_server.ts): POOLGATE_LOG_LEVEL (warning | info: access log),
#   POOLGATE_FAILOVER (migrate | sever), POOLGATE_FIN_PROBE, POOLGATE_CHECK (none | echo), DENO.
# TODO(lead): switch to `main.ts serve --listen 127.0.0.1:$1=bench --member ... --pool
# bench:failover=migrate` once serve takes them.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: PIDFILE=FILE $0 LISTEN_PORT BACKEND_PORT[,BACKEND_PORT...]" >&2; exit 2; }
: "${PIDFILE:?PIDFILE must be set}"
HERE="$(cd "$(dirname "$0")" && pwd)"
DENO="${DENO:-$(command -v deno)}"
RUN="${PROXY_RUNDIR:-$(mktemp -d)}"
cd "$HERE/.."
"$DENO" run --allow-net --allow-env --allow-read "$HERE/proxy_server.ts" "$1" "$2" \
  </dev/null >"$RUN/poolgate.log" 2>&1 &
echo $! >"$PIDFILE"
for ((i = 0; i < 300; i++)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then exit 0; fi
  if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then break; fi
  sleep 0.05
done
echo "start-poolgate.sh: poolgate did not start listening on $1" >&2
cat "$RUN/poolgate.log" >&2
exit 1
