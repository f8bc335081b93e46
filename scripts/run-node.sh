#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs a node with node.conf
# in the foreground (Ctrl-C stops it cleanly). Extra arguments go to chorusd,
# e.g. --net.ws-port=7400.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_TYPE=Release BUILD_DIR=build-release scripts/build.sh -DCHORUS_BUILD_TESTS=OFF
echo "run: get a token with: build-release/chorusd token alice"
exec build-release/chorusd --config-file=node.conf "$@"
