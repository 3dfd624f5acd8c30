#!/usr/bin/env bash
# Configures and builds latchd into build/ (binaries in build/bin/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
make -C build -j"$(nproc)" --no-print-directory
