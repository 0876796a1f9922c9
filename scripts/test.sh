#!/usr/bin/env bash
# Installs, builds and runs every test (unit, integration with a real redis-server, end to end,
# and the bench smoke). Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh RelWithDebInfo build
cd build
ctest --output-on-failure --timeout 600 -j2
