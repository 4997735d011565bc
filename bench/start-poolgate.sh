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
# shellcheck source=bench/start_common.sh
. "$(dirname "$0")/start_common.sh" "$@"
args=(serve --asap "127.0.0.1:$asap_port" --no-admin --no-store --listen "127.0.0.1:$1=bench"
  --pool "bench:failover=${POOLGATE_FAILOVER:-migrate},fin-probe=${POOLGATE_FIN_PROBE:-unless-done}"
  --log-level "${POOLGATE_LOG_LEVEL:-warning}" --log-format json)
for port in "${backends[@]}"; do args+=(--member "bench=127.0.0.1:$port"); done
if [ "${POOLGATE_CHECK:-connect}" = echo ]; then args+=(--check-send 'PING\n' --check-expect PING); fi
"$DENO" run --allow-all main.ts "${args[@]}" </dev/null >"$RUN/poolgate.log" 2>&1 &
echo $! >"$PIDFILE"
if wait_for_pool "$1" bench "$asap_port" "${#backends[@]}" "$(cat "$PIDFILE")"; then exit 0; fi
echo "start-poolgate.sh: poolgate did not serve pool bench with ${#backends[@]} members on $1" >&2
cat "$RUN/poolgate.log" >&2
exit 1
