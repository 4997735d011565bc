#!/usr/bin/env bash
# start-deno-forwarder.sh LISTEN_PORT BACKEND_PORT[,BACKEND_PORT...]
# The minimal Deno TCP forwarder (bench/deno_forwarder.ts): the runtime's own limit, to compare
# Poolgate's session proxy with. Start-script interface of shared/bench/proxy/README.md.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: PIDFILE=FILE $0 LISTEN_PORT BACKEND_PORT[,BACKEND_PORT...]" >&2; exit 2; }
: "${PIDFILE:?PIDFILE must be set}"
HERE="$(cd "$(dirname "$0")" && pwd)"
DENO="${DENO:-$(command -v deno)}"
RUN="${PROXY_RUNDIR:-$(mktemp -d)}"
"$DENO" run --allow-net "$HERE/deno_forwarder.ts" "$1" "$2" </dev/null >"$RUN/deno-forwarder.log" 2>&1 &
echo $! >"$PIDFILE"
for ((i = 0; i < 200; i++)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then exit 0; fi
  sleep 0.05
done
echo "start-deno-forwarder.sh: the forwarder did not start listening on $1" >&2
cat "$RUN/deno-forwarder.log" >&2
exit 1
