#!/usr/bin/env bash
# Runs one benchmark workload against a fresh node and prints its figures.
#
#   bench/run.sh w1|w2|w3|w4|w6|all [extra chorus-load options]
#   bench/run.sh profile [chorus-load workload options]
#   bench/run.sh limits [chorus-limits options]
#
# `limits` measures what this machine allows, the way the node uses it, to
# read the other figures against: small frames written to 1,000 loopback TCP
# connections from the node's core, one send() each; frames read there, as
# the node's sessions read them; 4 KiB WAL syncs (bench/limits.cpp).
#
# `profile` runs chorus-load (by default W1 random pairs at saturation:
# --workload=w1 --users=1000 --window=1) and records the node with perf for
# PROFILE_SECONDS (5) once it is under load: PERF=cpu (the default) samples
# call stacks and prints the CPU by thread and the top symbols; PERF=sched
# traces the node's core and prints how long each thread ran on it. The
# recording stays in $RESULTS/profile.data for `perf report`. Needs perf
# (Debian: linux-perf) and the right to use it.
#
# `w1` measures saturation, then latency at half of it; right before the
# latency run it measures the disk's own WAL sync latency (chorus-limits
# --syncs-only), the floor of a synced ack, and prints it with the run.
#
# `w6` kills the node with kill -9 during sends and checks every acked
# message (five rounds), then fills a new node with 10 million messages
# (20,000 with SHORT=1; the full fill takes about 13 minutes on a 2-core VM)
# through the protocol, kills it while it writes and times the restart to
# serving.
#
# Starts chorusd with a new data directory (storage.sync=true, the default),
# pins it to one core and the load generator to another, runs, and stops
# everything. Environment:
#   SHORT=1         seconds-long runs (what CI does, so the tools cannot rot)
#   WIRE=tcp|ws     the client protocol (default tcp: protobuf over raw TCP)
#   BUILD_DIR=dir   binaries to use (default build-release, built if missing)
#   NODE_CPU=0 LOAD_CPU=1   the cores for node and load generator
#   RESULTS=dir     where JSON summaries go (default bench/results)
#   CONFIG=file     the node's config file (default node.conf)
#   RATE=n          w1: only the open-loop run, at n msgs/s (no saturation run);
#                   its summary is w1-rate-n.json
#   SERVER=ejabberd drive ejabberd 23.01 (Debian's package, installed if
#                   missing; needs root) instead of chorusd, over XMPP with
#                   the same load generator: w1 and w3 only, for the
#                   same-machine comparison in docs/benchmarks.md. Its config
#                   is bench/ejabberd/ejabberd.yml (message archive on).
set -euo pipefail
cd "$(dirname "$0")/.."

workload=${1:?usage: bench/run.sh w1|w2|w3|w4|w6|all|limits|profile [options]}
shift
extra=("$@")
short=${SHORT:-0}
wire=${WIRE:-tcp}
server=${SERVER:-chorus}
if [ "$server" = ejabberd ]; then
  wire=xmpp
  case "$workload" in w1 | w3) ;; *)
    echo "bench: SERVER=ejabberd runs w1 and w3 only" >&2
    exit 2
    ;;
  esac
fi
node_cpu=${NODE_CPU:-0}
load_cpu=${LOAD_CPU:-1}
results=${RESULTS:-bench/results}
mkdir -p "$results"

if [ -z "${BUILD_DIR:-}" ]; then
  BUILD_DIR=build-release
  scripts/setup.sh
  # A new build directory skips the tests (faster); one configured before
  # keeps its setting, so a developer's test binaries there stay built.
  tests=()
  [ -f "$BUILD_DIR/CMakeCache.txt" ] || tests=(-DCHORUS_BUILD_TESTS=OFF)
  BUILD_TYPE=Release BUILD_DIR=$BUILD_DIR scripts/build.sh "${tests[@]}" >/dev/null
fi
chorusd=$BUILD_DIR/chorusd
load=$BUILD_DIR/chorus-load
secret=bench-secret

node_pid=""
data_dir=""
ws_port=""
tcp_port=""

# ejabberd as the server under test: its own spool and logs in a new
# directory, its own Erlang node name and port, one scheduler pinned to the
# node's core (as chorusd runs one pool thread there).
ej_node=""
start_ejabberd() {
  if ! command -v ejabberdctl >/dev/null; then
    echo "bench: installing ejabberd" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends ejabberd >/dev/null
  fi
  data_dir=$(mktemp -d /tmp/ejabberd-bench.XXXXXX)
  # A port nothing listens on.
  tcp_port=$((20000 + RANDOM % 20000))
  while (exec 3<>"/dev/tcp/127.0.0.1/$tcp_port") 2>/dev/null; do
    tcp_port=$((20000 + RANDOM % 20000))
  done
  ej_node="chorusbench$$@localhost"
  sed "s/port: 15222/port: $tcp_port/" bench/ejabberd/ejabberd.yml >"$data_dir/ejabberd.yml"
  printf 'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 +S 1:1"\nEJABBERD_PID_PATH=%s/ejabberd.pid\n' \
    "$data_dir" >"$data_dir/ejabberdctl.cfg"
  mkdir -p "$data_dir/spool" "$data_dir/logs"
  chown -R ejabberd "$data_dir"
  sync
  local ctl="ejabberdctl --config $data_dir/ejabberd.yml --ctl-config $data_dir/ejabberdctl.cfg"
  ctl+=" --spool $data_dir/spool --logs $data_dir/logs --node $ej_node"
  # As the ejabberd user, with the open-file limit raised (su keeps the
  # default soft limit of 1,024).
  su ejabberd -s /bin/sh -c "ulimit -n 20000; cd $data_dir && taskset -c $node_cpu $ctl start"
  su ejabberd -s /bin/sh -c "$ctl started"
  node_pid=$(pgrep -f "beam.*$ej_node" | head -n 1)
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$tcp_port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: ejabberd did not start" >&2
  exit 1
}

stop_ejabberd() {
  su ejabberd -s /bin/sh -c "ejabberdctl --ctl-config $data_dir/ejabberdctl.cfg --node $ej_node stop" \
    >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$node_pid" 2>/dev/null || true
  node_pid=""
  # The Erlang port mapper daemon it started: stop it unless other nodes use it.
  if command -v epmd >/dev/null && ! epmd -names 2>/dev/null | grep -q '^name'; then
    epmd -kill >/dev/null 2>&1 || true
  fi
}

start_node() { # [keep]: reuse data_dir
  if [ "$server" = ejabberd ]; then
    start_ejabberd
    return
  fi
  if [ "${1:-}" != keep ]; then
    [ -n "$data_dir" ] && rm -rf "$data_dir"
    data_dir=$(mktemp -d /tmp/chorus-bench.XXXXXX)
  fi
  # Write out what earlier runs left dirty in the page cache: its writeback
  # would otherwise compete with this run's WAL syncs (p99 x5 after a
  # saturation run).
  sync
  local out
  out=$(mktemp /tmp/chorus-bench-out.XXXXXX)
  taskset -c "$node_cpu" "$chorusd" --config-file="${CONFIG:-node.conf}" --node.data-dir="$data_dir" \
    --net.ws-port=0 --net.tcp-port=0 --auth.secret=$secret --log.level=warn \
    --limits.sends-per-second=0 ${NODE_ARGS:-} >"$out" 2>"$out.err" &
  node_pid=$!
  for _ in $(seq 1 200); do
    if grep -q '^ready' "$out"; then break; fi
    sleep 0.05
  done
  read -r ws_port tcp_port < <(sed -n 's/^ready ws=\([0-9]*\) tcp=\([0-9]*\)/\1 \2/p' "$out")
  rm -f "$out"
  [ -n "$tcp_port" ] && rm -f "$out.err"
  if [ -z "$tcp_port" ]; then
    echo "bench: node did not start:" >&2
    cat "$out.err" >&2
    exit 1
  fi
}

stop_node() {
  if [ "$server" = ejabberd ] && [ -n "$node_pid" ]; then
    stop_ejabberd
    return
  fi
  if [ -n "$node_pid" ]; then
    kill -TERM "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
    node_pid=""
  fi
}

crash_node() { # kill -9: no chance to flush or close anything
  kill -9 "$node_pid"
  wait "$node_pid" 2>/dev/null || true
  node_pid=""
}

restart_secs=""
restart_node() { # start on the same data; restart_secs: how long until it served
  local t0 t1
  t0=$(date +%s.%N)
  start_node keep
  t1=$(date +%s.%N)
  restart_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}

cleanup() {
  stop_node
  [ -n "$data_dir" ] && rm -rf "$data_dir"
  return 0
}
trap cleanup EXIT

port() { if [ "$wire" = ws ]; then echo "$ws_port"; else echo "$tcp_port"; fi; }

run_load() { # name, options...
  local name=$1
  shift
  local metrics=()
  # A Chorus node's /metrics adds its own view of send latency and commits.
  [ "$server" != ejabberd ] && metrics=(--metrics-port="$ws_port")
  taskset -c "$load_cpu" "$load" --host=127.0.0.1 --port="$(port)" --wire="$wire" \
    --secret=$secret --server-pid="$node_pid" "${metrics[@]}" --json="$results/$name.json" "$@" \
    "${extra[@]}" >/dev/null
}

# Result files of ejabberd runs are named ejabberd-*.json.
name_prefix=""
[ "$server" = ejabberd ] && name_prefix="ejabberd-"

field() { # file key -> number
  sed -n "s/.*\"$2\": *\([0-9.]*\).*/\1/p" "$1" | head -n 1
}

# The disk's own WAL sync latency (chorus-limits --syncs-only), measured
# right before a W1 latency run: a synced ack cannot be faster, so its p99
# sits next to the run's (docs/benchmarks.md, "What bounds the p99").
disk_probe() { # summary name
  [ "$server" = chorus ] || return 0
  local syncs=500 dir
  [ "$short" = 1 ] && syncs=100
  dir=$(mktemp -d /tmp/chorus-bench.XXXXXX)
  echo "disk right before, 4 KiB write + fdatasync:"
  "$BUILD_DIR/chorus-limits" --syncs-only --syncs=$syncs --node-cpu="$node_cpu" --dir="$dir" \
    --json="$results/$1.json"
  rm -rf "$dir"
}

w1() {
  local secs=10 users=1000
  [ "$short" = 1 ] && secs=2 && users=100
  if [ -n "${RATE:-}" ]; then
    echo "== W1 direct: $users users, open loop at $RATE msgs/s, $wire, $server"
    disk_probe w1-rate-"$RATE"-disk
    start_node
    run_load "$name_prefix"w1-rate-"$RATE" --workload=w1 --users=$users --duration=$secs --warmup=1 \
      --rate="$RATE"
    stop_node
    return
  fi
  echo "== W1 direct: $users users, saturation (one send in flight per connection), $wire, $server"
  start_node
  run_load "$name_prefix"w1-saturation --workload=w1 --users=$users --duration=$secs --warmup=1 --window=1
  stop_node
  local sat
  sat=$(field "$results/$name_prefix""w1-saturation.json" delivered_per_second)
  local half
  half=$(awk -v r="$sat" 'BEGIN { printf "%d", r / 2 }')
  [ "$half" -lt 1 ] && half=1
  echo "== W1 direct: latency at half of saturation ($half msgs/s, open loop)"
  disk_probe w1-latency-disk
  start_node
  run_load "$name_prefix"w1-latency --workload=w1 --users=$users --duration=$secs --warmup=1 --rate="$half"
  stop_node
}

w2() {
  local secs=10
  local sizes="100 1000 10000"
  # Short runs keep one group on each side of limits.large-group (500).
  [ "$short" = 1 ] && secs=2 && sizes="20 600"
  for s in $sizes; do
    local rate=200
    [ "$s" -ge 1000 ] && rate=20
    [ "$s" -ge 10000 ] && rate=5
    echo "== W2 group: 1 group of $s members, $rate msgs/s"
    start_node
    run_load "w2-$s" --workload=w2 --groups=1 --members="$s" --rate="$rate" --duration=$secs --warmup=1
    stop_node
  done
}

w3() {
  # The node is one process too: keep the total under its ~20,000 open files.
  # Held idle long enough for what an idle node does to idle devices: their
  # connection actors stop after actors.connection-idle (10 s, checked every
  # 10 s) and the allocator returns the freed pages after its decay time
  # (10 s).
  local per=4500 procs=4 hold=35
  [ "$short" = 1 ] && per=500 procs=2 hold=1
  local total=$((per * procs))
  echo "== W3 idle connections: $procs processes x $per, $wire, $server"
  start_node
  if [ "$wire" = xmpp ]; then
    # Register the users first, so that the figure is the sessions' memory,
    # not the user database's.
    local reg_log
    reg_log=$(mktemp /tmp/chorus-w3-register.XXXXXX)
    for p in $(seq 1 "$procs"); do
      if ! taskset -c "$load_cpu" "$load" --host=127.0.0.1 --port="$(port)" --wire="$wire" \
        --secret=$secret --workload=w3 --users="$per" --prefix="w3p$p-" --duration=0 --quiet \
        >"$reg_log" 2>&1; then
        echo "bench: registering the W3 users failed:" >&2
        tail -n 5 "$reg_log" >&2
        rm -f "$reg_log"
        return 1
      fi
    done
    rm -f "$reg_log"
    sleep 2
  fi
  sleep 0.5
  local rss0
  rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$node_pid/status")
  local pids=() logs=()
  for p in $(seq 1 "$procs"); do
    local log
    log=$(mktemp /tmp/chorus-w3.XXXXXX)
    logs+=("$log")
    taskset -c "$load_cpu" "$load" --host=127.0.0.1 --port="$(port)" --wire="$wire" \
      --secret=$secret --workload=w3 --users="$per" --prefix="w3p$p-" --duration=$((hold + 30)) \
      --json="$results/$name_prefix""w3-p$p.json" "${extra[@]}" >/dev/null 2>"$log" &
    pids+=($!)
  done
  local start
  start=$(date +%s.%N)
  for log in "${logs[@]}"; do
    for _ in $(seq 1 600); do
      grep -q '^connected' "$log" && break
      sleep 0.2
    done
  done
  local took
  took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  sleep "$hold"
  local rss1
  rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$node_pid/status")
  cat "${logs[@]}" | grep '^connected' >&2
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  rm -f "${logs[@]}"
  awk -v n="$total" -v a="$rss0" -v b="$rss1" -v t="$took" 'BEGIN {
    printf "{\"workload\":\"w3\",\"connections\":%d,\"server_rss_kb_before\":%d,\"server_rss_kb_connected\":%d,\"server_bytes_per_connection\":%.0f,\"connects_per_second\":%.0f}\n",
      n, a, b, (b - a) * 1024 / n, n / t }' | tee "$results/$name_prefix""w3.json"
  stop_node
}

w4() {
  local k=10000 m=100
  [ "$short" = 1 ] && k=1000 m=10
  echo "== W4 sync: $k messages over $m conversations while offline"
  start_node
  run_load w4 --workload=w4 --messages=$k --conversations=$m
  stop_node
}

w6() {
  local rounds=5 secs=3
  [ "$short" = 1 ] && rounds=2 secs=1
  echo "== W6 crash check: $rounds rounds of kill -9 during sends"
  local record
  record=$(mktemp /tmp/chorus-w6.XXXXXX)
  start_node
  for r in $(seq 1 "$rounds"); do
    taskset -c "$load_cpu" "$load" --host=127.0.0.1 --port="$(port)" --wire="$wire" \
      --secret=$secret --workload=w6-send --users=16 --window=16 --duration=60 \
      --prefix="r$r-" --record="$record" >/dev/null 2>&1 &
    local sender=$!
    sleep "$secs"
    crash_node
    wait "$sender" || true
    restart_node
    echo "round $r: $(wc -l <"$record") acked so far; restart to serving $restart_secs s" >&2
    run_load "w6-verify-$r" --workload=w6-verify --record="$record" || {
      echo "W6: verification FAILED in round $r" >&2
      cat "$results/w6-verify-$r.json" >&2
      exit 1
    }
  done
  cp "$results/w6-verify-$rounds.json" "$results/w6.json"
  cat "$results/w6.json"
  rm -f "$record"
  stop_node

  # Restart of a node that holds many messages: filled through the protocol
  # (100 users, so about 4,950 conversations of ~2,000 messages each; the
  # fill without WAL syncs, the restart with them), then killed mid-write
  # and restarted.
  local stored=10000000
  [ "$short" = 1 ] && stored=20000
  echo "== W6 restart: a node with $stored stored messages"
  NODE_ARGS="${NODE_ARGS:-} --storage.sync=false" start_node
  run_load w6-fill --workload=w1 --users=100 --window=16 --warmup=0 --duration=36000 \
    --stop-after="$stored" --quiet
  crash_node
  restart_node
  # Serving: the same users send again, each into conversations it has.
  run_load w6-serve --workload=w1 --users=100 --rate=1000 --warmup=0 --duration=2 --quiet
  local store_mb
  store_mb=$(du -sm "$data_dir" | cut -f1)
  echo "store: $store_mb MB; restart to serving after kill -9: $restart_secs s;" \
    "then W1 at 1,000 msgs/s: ack p99 $(field "$results/w6-serve.json" p99_us) us"
  printf '{"stored_messages": %s, "restart_seconds": %s, "store_mb": %s}\n' "$stored" \
    "$restart_secs" "$store_mb" >"$results/w6-restart.json"
  stop_node
}

profile() {
  local secs=${PROFILE_SECONDS:-5} mode=${PERF:-cpu}
  if ! command -v perf >/dev/null; then
    echo "bench: profile needs perf (Debian: apt-get install linux-perf)" >&2
    exit 2
  fi
  [ ${#extra[@]} -eq 0 ] && extra=(--workload=w1 --users=1000 --window=1)
  local data="$results/profile.data"
  echo "== profile ($mode, ${secs} s): chorus-load ${extra[*]}, $wire"
  start_node
  run_load profile --duration=$((secs + 5)) --warmup=1 &
  local load_pid=$!
  sleep 3
  if [ "$mode" = sched ]; then
    perf record -e sched:sched_switch -C "$node_cpu" -o "$data" -- sleep "$secs" >/dev/null 2>&1
  else
    perf record -F 2000 -g -p "$node_pid" -o "$data" -- sleep "$secs" >/dev/null 2>&1
  fi
  wait "$load_pid" || true
  stop_node
  echo "delivered msgs/s during the run: $(field "$results/profile.json" delivered_per_second)"
  if [ "$mode" = sched ]; then
    # Time from each switch to the next is the time the incoming thread ran.
    perf script -i "$data" -F time,trace 2>/dev/null | awk '
      { t = $1 + 0; n = $0; sub(/.*next_comm=/, "", n); sub(/ next_pid=.*/, "", n)
        if (cur != "") { ran[cur] += t - start; total += t - start }
        if (n ~ /^swapper/) n = "(idle)"
        cur = n; start = t }
      END { for (c in ran) printf "%6.1f %%  %s\n", 100 * ran[c] / total, c }' | sort -rn | head -12
  else
    perf report -i "$data" --no-children --sort comm --stdio -g none 2>/dev/null | grep '%' | head -8
    perf report -i "$data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep '%' |
      head -30 | cut -c1-160
  fi
}

limits() {
  echo "== machine limits: loopback socket sends and reads on core $node_cpu, WAL syncs"
  local short_args=()
  [ "$short" = 1 ] && short_args=(--connections=100 --seconds=0.5 --syncs=200)
  local dir
  dir=$(mktemp -d /tmp/chorus-bench.XXXXXX) # where the node keeps its data
  "$BUILD_DIR/chorus-limits" --node-cpu="$node_cpu" --load-cpu="$load_cpu" --dir="$dir" \
    --json="$results/limits.json" "${short_args[@]}" "${extra[@]}"
  rm -rf "$dir"
}

case "$workload" in
  profile) profile ;;
  limits) limits ;;
  w1) w1 ;;
  w2) w2 ;;
  w3) w3 ;;
  w4) w4 ;;
  w6) w6 ;;
  all) limits; w1; w2; w3; w4; w6 ;;
  *) echo "unknown workload $workload" >&2; exit 2 ;;
esac
