#!/usr/bin/env bash
# Configures and builds Chorus into BUILD_DIR (default build/). Extra arguments
# go to CMake, e.g. -DCHORUS_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build "$build_dir" -j "${JOBS:-2}"
