#!/usr/bin/env bash
# Installs the Debian 12 packages Chorus needs to build and test, only those
# that are missing, without questions. Needs root (or sudo) only if something
# is missing. `scripts/setup.sh test` adds what only the tests need (clang and
# libFuzzer for scripts/fuzz.sh).
set -euo pipefail

packages=(
  g++ cmake ninja-build clang-format
  libcaf-dev libprotobuf-dev protobuf-compiler librocksdb-dev
  libboost-dev libjemalloc-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libssl-dev libexpat1-dev catch2
)
if [ "${1:-}" = test ]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
