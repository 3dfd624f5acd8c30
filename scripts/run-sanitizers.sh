#!/usr/bin/env bash
# Builds and runs the tests under sanitizers:
#   AddressSanitizer + UndefinedBehaviorSanitizer: every unit test, and the agent-driving
#     integration tests against the instrumented latchd/latchctl;
#   ThreadSanitizer: the unit tests of the threaded parts (event loop, ZooKeeper client
#     adapter against a real server, RoleClient, hook runner, sd_notify).
# Usage: scripts/run-sanitizers.sh [asan|tsan|all]   (default all)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
what="${1:-all}"
jobs="$(nproc)"

if [[ "$what" == asan || "$what" == all ]]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
  make -C build-asan -j"$jobs" --no-print-directory unit_tests latchd latchctl
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  echo "== ASan+UBSan: unit tests"
  build-asan/bin/unit_tests --gtest_brief=1
  echo "== ASan+UBSan: integration tests against the instrumented agent"
  (cd tests/integration && LATCHD_BIN_DIR="$PWD/../../build-asan/bin" \
     python3 -m unittest test_election test_ensemble test_cli test_acl test_docs test_curator_interop)
fi

if [[ "$what" == tsan || "$what" == all ]]; then
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
  make -C build-tsan -j"$jobs" --no-print-directory unit_tests
  echo "== TSan: threaded parts"
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" build-tsan/bin/unit_tests --gtest_brief=1 \
    --gtest_filter='EventLoop*:Http*:LineServer*:Zookeeper*:RoleClient*:HookRunner*:SdNotify*:LogLimiter*:Metrics*'
fi
