#!/usr/bin/env bash
# Installs what the build, the services and the tests need on Debian 12 (idempotent), then
# configures and builds. Usage: scripts/setup.sh [Release|RelWithDebInfo|Debug] [build dir] [target...]
# (no targets: everything, tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TYPE="${1:-RelWithDebInfo}"
BUILD_DIR="${2:-build}"
TARGETS=("${@:3}")

PACKAGES=(build-essential cmake pkg-config libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev
  protobuf-compiler libabsl-dev libhiredis-dev libssl-dev libgtest-dev libgmock-dev
  libcpp-httplib-dev redis-server redis-tools python3 python3-yaml python3-grpcio stunnel4 openssl
  clang-format
  postgresql-15 libpq-dev prometheus
  git)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "==> building ($BUILD_TYPE) in $BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >/dev/null
if ((${#TARGETS[@]})); then
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target "${TARGETS[@]}"
else
  cmake --build "$BUILD_DIR" -j"$(nproc)"
fi
