#!/usr/bin/env bash
# Quick start (b): installs what is needed, builds, and runs every test: unit and integration
# tests through CTest, then the sanitizer runs (ASan+UBSan, TSan; scripts/run-sanitizers.sh)
# and a bounded fuzz run of every parser and the core (fuzz/run.sh, 10 s a target).
# LATCHD_SKIP_SANITIZERS=1 skips the last two. Long soaks are separate: bench/soak.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure "$@"
bash tests/model/check.sh && bash tests/model/check.sh --mutants
if [[ "${LATCHD_SKIP_SANITIZERS:-0}" != 1 ]]; then
  bash scripts/run-sanitizers.sh all
  bash fuzz/build.sh
  bash fuzz/run.sh "${LATCHD_FUZZ_SECONDS:-10}"
fi
