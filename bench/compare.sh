#!/usr/bin/env bash
# Chorus against ejabberd 23.01 on this machine, in one run, with the same
# load generator (bench/run.sh drives both; ejabberd over XMPP with its
# message archive on, see bench/ejabberd/ejabberd.yml):
#
#   bench/compare.sh            (needs root for ejabberd; about 10 minutes)
#
# For each of RUNS rounds (default 3), alternating the servers: W1 at
# saturation and at half of it, then both servers open loop at ejabberd's
# half-saturation rate, Chorus also with storage.sync=false (ejabberd's
# archive does not sync each message to disk). Then W3 once for each. Prints
# the medians and their ratios; the JSON summaries stay in RESULTS (default
# bench/results/compare).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-3}
out=${RESULTS:-bench/results/compare}
export BUILD_DIR=${BUILD_DIR:-}
if [ -z "$BUILD_DIR" ]; then
  scripts/setup.sh
  BUILD_TYPE=Release BUILD_DIR=build-release scripts/build.sh -DCHORUS_BUILD_TESTS=OFF >/dev/null
  export BUILD_DIR=build-release
fi
[ "${REPORT_ONLY:-0}" = 1 ] || rm -rf "$out"
mkdir -p "$out"

top() { # file key -> number (first occurrence), rounded
  sed -n "s/.*\"$2\": *\([0-9.]*\).*/\1/p" "$1" | head -n 1 | awk '{ printf "%.0f", $1 }'
}
p99() { # file -> delivery p99 in ms (the summaries are indented JSON)
  awk '/"delivery_latency"/ { on = 1 } on && /"p99_us"/ { sub(/.*: */, ""); gsub(/[^0-9]/, ""); printf "%.1f", $0 / 1000; exit }' "$1"
}
median() { # values... -> median
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

if [ "${REPORT_ONLY:-0}" != 1 ]; then
  for r in $(seq 1 "$runs"); do
    echo "== round $r of $runs" >&2
    RESULTS=$out/chorus-$r bench/run.sh w1 >&2
    SERVER=ejabberd RESULTS=$out/ejabberd-$r bench/run.sh w1 >&2
    half=$(awk -v r="$(top "$out/ejabberd-$r/ejabberd-w1-saturation.json" delivered_per_second)" \
      'BEGIN { printf "%d", r / 2 }')
    RATE=$half RESULTS=$out/chorus-$r bench/run.sh w1 >&2
    RATE=$half RESULTS=$out/chorus-$r/nosync NODE_ARGS=--storage.sync=false bench/run.sh w1 >&2
  done
  RESULTS=$out/chorus-w3 bench/run.sh w3 >&2
  SERVER=ejabberd RESULTS=$out/ejabberd-w3 bench/run.sh w3 >&2
fi

# The report, from the summaries in $out (REPORT_ONLY=1 prints it again).
c_sat=() e_sat=() c_half=() e_half=() c_at=() n_at=() rates=()
for r in $(seq 1 "$runs"); do
  c=$out/chorus-$r e=$out/ejabberd-$r
  rate=$(top "$e/ejabberd-w1-latency.json" offered_per_second)
  at=$(ls "$c"/w1-rate-*.json | grep -v -- "-disk.json$") # not the disk probe beside it
  rates+=("$rate")
  c_sat+=("$(top "$c/w1-saturation.json" delivered_per_second)")
  e_sat+=("$(top "$e/ejabberd-w1-saturation.json" delivered_per_second)")
  c_half+=("$(p99 "$c/w1-latency.json")/$(top "$c/w1-latency.json" server_cpu_percent)%")
  e_half+=("$(p99 "$e/ejabberd-w1-latency.json")/$(top "$e/ejabberd-w1-latency.json" server_cpu_percent)%")
  c_at+=("$(p99 "$at")/$(top "$at" server_cpu_percent)%")
  n_at+=("$(p99 "$c/nosync/${at##*/}")/$(top "$c/nosync/${at##*/}" server_cpu_percent)%")
done
first() { # "p99/cpu%" values -> their p99s
  for v in "$@"; do echo "${v%%/*}"; done
}
c_w3=$(top "$out/chorus-w3/w3.json" server_bytes_per_connection)
e_w3=$(top "$out/ejabberd-w3/ejabberd-w3.json" server_bytes_per_connection)
cs=$(median "${c_sat[@]}") es=$(median "${e_sat[@]}")
cat <<TABLE

Chorus vs ejabberd 23.01 on $(uname -n), $runs rounds; medians, then each round.
Latency: p99 ms from send to the recipient's delivery / the server's CPU.

W1 delivered msgs/s at saturation  chorus $cs (${c_sat[*]})  ejabberd $es (${e_sat[*]})  ratio $(awk -v a="$cs" -v b="$es" 'BEGIN { printf "%.1f", a / b }')
W1 at half of its own saturation   chorus p99 $(median $(first "${c_half[@]}")) (${c_half[*]})  ejabberd p99 $(median $(first "${e_half[@]}")) (${e_half[*]})
W1 at ejabberd's half rate         chorus p99 $(median $(first "${c_at[@]}")) (${c_at[*]}), with sync=false $(median $(first "${n_at[@]}")) (${n_at[*]})  ejabberd as above  (${rates[*]} msgs/s)
W3 bytes per idle connection       chorus $c_w3  ejabberd $e_w3  ratio $(awk -v a="$e_w3" -v b="$c_w3" 'BEGIN { printf "%.1f", a / b }')
TABLE
