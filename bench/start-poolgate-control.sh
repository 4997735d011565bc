#!/usr/bin/env bash
# start-poolgate-control.sh LISTEN_PORT BACKEND_PORT[,BACKEND_PORT...]
# `main.ts serve` with control-channel (DATA PLUS CONTROL) pool elements: one listener for pool
# "bench" and no static member; one bench/relay_pe.ts per backend port registers with the
# embedded registrar and relays each session to its backend over plain TCP. Start-script
# interface of shared/bench/proxy/README.md, as bench/start-poolgate.sh: runs in the background,
# logs to $PROXY_RUNDIR/poolgate.log (relays to relay-N-PORT.log), writes the poolgate PID alone to
# $PIDFILE (the relays are backends: their CPU is not the proxy's) and returns once the port
# accepts connections AND the registrar resolves the pool with every relay in it.
# The relays run on the load core (taskset -c $LOAD_CPUS, 0 by default; not with PIN=0) and
# exit when they lose their registrar, i.e. when poolgate stops, however it is stopped.
# Env: POOLGATE_LOG_LEVEL (warning | info), POOLGATE_FAILOVER (migrate | sever),
#   POOLGATE_REPLAY_BUFFER (bytes; the proxy's default is 256 KiB), RELAY_COOKIE_EVERY (client
#   bytes between two cookies; relay_pe.ts's default is 64 KiB), LOAD_CPUS, PIN, DENO.
set -euo pipefail
# shellcheck source=bench/start_common.sh
. "$(dirname "$0")/start_common.sh" "$@"
pool="bench:failover=${POOLGATE_FAILOVER:-migrate}"
if [ -n "${POOLGATE_REPLAY_BUFFER:-}" ]; then pool+=",replay-buffer=$POOLGATE_REPLAY_BUFFER"; fi
"$DENO" run --allow-all main.ts serve --asap "127.0.0.1:$asap_port" --no-admin --no-store \
  --listen "127.0.0.1:$1=bench" --pool "$pool" \
  --log-level "${POOLGATE_LOG_LEVEL:-warning}" --log-format json </dev/null >"$RUN/poolgate.log" 2>&1 &
poolgate=$!
echo "$poolgate" >"$PIDFILE"

relays=() logs=()
fail() {
  echo "start-poolgate-control.sh: $*" >&2
  if [ ${#relays[@]} -gt 0 ]; then kill "${relays[@]}" 2>/dev/null || true; fi # they exit by themselves once registered only
  cat "$RUN/poolgate.log" >&2
  for log in "${logs[@]}"; do echo "--- $log:" >&2; cat "$log" >&2; done
  exit 1
}

# The relays' first server hunt must find the registrar: a failed round waits out T5 (10 s).
for ((i = 0; i < 200; i++)); do
  kill -0 "$poolgate" 2>/dev/null || fail "poolgate exited"
  if (exec 3<>"/dev/tcp/127.0.0.1/$asap_port") 2>/dev/null; then break; fi
  sleep 0.05
done
((i < 200)) || fail "the registrar did not accept on $asap_port"

pin_load=()
if [ "${PIN:-1}" != 0 ]; then pin_load=(taskset -c "${LOAD_CPUS:-0}"); fi
for i in "${!backends[@]}"; do
  port=${backends[$i]}
  "${pin_load[@]}" "$DENO" run --allow-net bench/relay_pe.ts --pool bench \
    --registrar "127.0.0.1:$asap_port" --backend "127.0.0.1:$port" \
    ${RELAY_COOKIE_EVERY:+--cookie-every "$RELAY_COOKIE_EVERY"} --log-format json \
    </dev/null >"$RUN/relay-$((i + 1))-$port.log" 2>&1 &
  relays+=($!) logs+=("$RUN/relay-$((i + 1))-$port.log")
done

if wait_for_pool "$1" bench "$asap_port" "${#backends[@]}" "$poolgate" "${relays[@]}"; then exit 0; fi
fail "poolgate did not serve pool bench with ${#backends[@]} relays on $1"
