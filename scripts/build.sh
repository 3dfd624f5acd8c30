#!/usr/bin/env bash
# Configures and builds latchd into build/ (binaries in build/bin/). First builds the ZooKeeper
# C client with SASL and TLS (scripts/build-zk-client.sh; cached outside build/, so it is built
# once per machine and source version).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/build-zk-client.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
make -C build -j"$(nproc)" --no-print-directory
