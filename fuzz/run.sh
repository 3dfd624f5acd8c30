#!/bin/sh
# Runs each fuzz target for a while and prints one line per target:
# executions, libFuzzer's final coverage figures and whether it crashed.
#
#   fuzz/run.sh [SECONDS [TARGET...]]     default: 30 s, every target
#
# Builds the targets first if they are missing (fuzz/build.sh). Each target
# reads its seeds from fuzz/corpus/<target>/ (read-only: committed) and keeps
# what it finds in fuzz/out/work/<target>/, so repeated runs build on earlier
# ones. Logs: fuzz/out/logs/<target>.log; crashing inputs:
# fuzz/out/crashes/<target>-crash-*. Exit status 1 if any target crashed.
# LATCHD_FUZZ_ALLOW=ID[,ID] lets checks of known issues pass (fuzz_check.h);
# FUZZ_ARGS adds libFuzzer options (e.g. FUZZ_ARGS=-jobs=2).
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${FUZZ_OUT:-$here/out}
all="protocol acl latch_node properties flags http core json"
secs=${1:-30}
[ $# -gt 0 ] && shift
targets=${*:-$all}

missing=""
for t in $targets; do [ -x "$out/fuzz_$t" ] || missing="$missing $t"; done
if [ -n "$missing" ]; then
  FUZZ_OUT=$out "$here/build.sh" $missing || exit 2
fi

mkdir -p "$out/work" "$out/logs" "$out/crashes"
fmt="%-12s %8s %12s %9s %7s %8s %7s  %s\n"
printf "$fmt" target seconds executions exec/s cov ft corpus result
status=0
for t in $targets; do
  work="$out/work/$t"
  log="$out/logs/$t.log"
  mkdir -p "$work" "$here/corpus/$t"
  start=$(date +%s)
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of options
  "$out/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
      -artifact_prefix="$out/crashes/$t-" ${FUZZ_ARGS:-} "$work" "$here/corpus/$t" >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  execs=$(awk '/^stat::number_of_executed_units:/ { n = $2 } END { print n }' "$log")
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  corp=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  rate=$(( ${execs:-0} / (took > 0 ? took : 1) ))
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    status=1
    crash=$(ls -t "$out/crashes/$t-"* 2>/dev/null | head -n 1)
    result="CRASH ${crash:-(see $log)}"
  fi
  printf "$fmt" "$t" "$took" "${execs:--}" "$rate" "${cov:--}" "${ft:--}" "${corp:--}" "$result"
done
exit $status
