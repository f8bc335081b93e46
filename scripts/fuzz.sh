#!/usr/bin/env bash
# Fuzzes what the node reads from clients before an actor sees it (JSON and
# protobuf frames, content, HTTP API requests, tokens: tests/fuzz/fuzz_input.cpp)
# with libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   scripts/fuzz.sh [SECONDS [libFuzzer flags]]   SECONDS default 60; needs
#                                                  clang (scripts/setup.sh test)
#
# The corpus grows in build-fuzz/corpus and is reused by later runs. A
# finding stops the run with exit status 1 and leaves its input in
# build-fuzz/ (crash-*, leak-*, timeout-*); replay it with
# build-fuzz/fuzz_input FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
dir=${FUZZ_DIR:-build-fuzz}

if [ ! -f "$dir/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCHORUS_SANITIZE=ON -DCHORUS_FUZZ=ON -DCHORUS_BUILD_TESTS=OFF -DCHORUS_JEMALLOC=OFF >/dev/null
fi
ninja -C "$dir" fuzz_input

# Seeds: one valid input for each reader (the first byte picks it: '2' JSON
# frame, '3' protobuf frame, '4' content, '0' HTTP API request, '1' token).
corpus=$dir/corpus
mkdir -p "$corpus"
seed() { printf '%s' "$2" >"$corpus/seed-$1"; }
seed auth '2{"type":"auth","req_id":"1","payload":{"user_id":"alice","token":"alice.0.00"}}'
seed send '2{"type":"message.send","req_id":"2","payload":{"client_msg_id":"c1","to":"bob","msg_type":1,"content":{"text":"hi \u00e9"}}}'
seed send-conv '2{"type":"message.send","req_id":"3","payload":{"client_msg_id":"c2","conversation_id":"g:team","msg_type":1,"content":{"type":"rich_text","mention_type":"all","quote_message_seq":4,"parts":[{"type":"mention","user_id":"bob"}]}}}'
seed edit '2{"type":"message.edit","payload":{"conversation_id":"d:alice:bob","seq":3,"content":[1,2.5,true]}}'
seed sync '2{"type":"sync","payload":{"cursors":{"d:alice:bob":7,"g:team":0},"limit":100}}'
seed history '2{"type":"history","payload":{"conversation_id":"d:alice:bob","after_seq":1,"before_seq":9,"limit":50}}'
seed group '2{"type":"group.create","payload":{"group_id":"team","title":"T","members":["bob","carol"]}}'
seed presence '2{"type":"presence.query","payload":{"user_ids":["bob"]}}'
seed read '2{"type":"message.read","payload":{"conversation_id":"d:alice:bob","read_seq":2}}'
seed content '4{"type":"rich_text","parts":[{"type":"mention","user_id":"bob"}],"quote_message_seq":2}c1'
seed api-send '0POST
/v1/messages
{"client_msg_id":"c","to":"bob","msg_type":1,"content":"x"}'
seed api-history '0GET
/v1/conversations/d%3Aalice%3Abob/messages?after_seq=3&limit=10
'
seed api-rpc '0POST
/v1/rpc
{"type":"sync","payload":{}}'
seed token '1alice.0.5f3c'

# -timeout: an input that takes over 10 s is a hang; -rss_limit_mb: a leak or
# an allocation out of proportion to the input.
"$dir/fuzz_input" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$dir/" "$@" "$corpus"
