#!/usr/bin/env bash
# Quick start (b): installs what is needed, builds, and runs every test (unit and integration,
# through CTest). Long soaks are separate: bench/soak.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure "$@"
