#!/usr/bin/env bash
# Exhaustive check of tests/model/latch.pml with spin (docs/design.md, "A model").
#   bash tests/model/check.sh            the model: every configuration must hold
#   bash tests/model/check.sh --mutants  the known-bad variants: each must be refuted
# Exit 0 on success. One pan at a time, memory capped (MEMLIM), a time limit per run.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mode="${1:-model}"
limit="${LATCHD_MODEL_TIMEOUT:-240}"   # seconds per pan run
memlim="${LATCHD_MODEL_MEMLIM:-4000}"  # MB

if ! command -v spin >/dev/null || ! command -v gcc >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    apt-get install -y spin gcc >/dev/null 2>&1 || true
  fi
  command -v spin >/dev/null || { echo "check.sh: spin not found (apt-get install -y spin)"; exit 1; }
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/latch.pml" "$work/"
cd "$work"

# Every configuration has 3 agents, 2 sessions each, time 0..8 or 9 ticks (T = 4,
# L = 3) and unbounded message delay; the faults come in every pair (one
# state space with all four at once is too large to search exhaustively here).
common=""
configs=(
  "expiry2:-DN=3 -DTMAX=9 -DEXPB=2 -DTPD=0 -DYB=0 -DUB=0"
  "expiry+delete:-DN=3 -DTMAX=8 -DEXPB=1 -DTPD=1 -DYB=0 -DUB=0"
  "delete+yield:-DN=3 -DTMAX=8 -DEXPB=0 -DTPD=1 -DYB=1 -DUB=0"
  "yield+unhealthy:-DN=3 -DTMAX=8 -DEXPB=0 -DTPD=0 -DYB=1 -DUB=1"
  "expiry+yield:-DN=3 -DTMAX=8 -DEXPB=1 -DTPD=0 -DYB=1 -DUB=0"
  "delete+unhealthy:-DN=3 -DTMAX=8 -DEXPB=0 -DTPD=1 -DYB=0 -DUB=1"
  "expiry+unhealthy:-DN=3 -DTMAX=8 -DEXPB=1 -DTPD=0 -DYB=0 -DUB=1"
)

# run <defines> <extra gcc flags> -> sets out (pan's output), rc
run() {
  rm -f pan pan.* latch.pml.trail
  spin -a $1 latch.pml >spin.log 2>&1 || { out="spin -a failed: $(cat spin.log)"; rc=2; return; }
  gcc -O2 -w -DSAFETY -DCOLLAPSE -DMEMLIM="$memlim" $2 -o pan pan.c 2>gcc.log ||
    { out="gcc failed: $(head -5 gcc.log)"; rc=2; return; }
  out="$(timeout "$limit" ./pan -m100000 2>&1)"; rc=$?
}
field() { grep -Eo "$1" <<<"$out" | head -1 | grep -Eo '[0-9]+' | head -1; }
complete() {  # an exhaustive run: no timeout, no memory bound, no depth bound
  [[ $rc == 0 ]] && ! grep -q "MEMLIM bound\|max search depth too small\|out of memory" <<<"$out"
}

if [[ "$mode" != --mutants ]]; then
  fail=0
  for c in "${configs[@]}"; do
    name="${c%%:*}"; defs="${c#*:}"
    start=$(date +%s.%N)
    run "$common $defs" ""
    secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
    errors=$(field 'errors: [0-9]+')
    states=$(field '[0-9]+ states, stored')
    if complete && [[ "$errors" == 0 ]]; then
      echo "ok     $name: $states states stored, ${secs} s"
    else
      echo "FAILED $name (rc $rc, errors ${errors:-?}, ${secs} s)"
      grep -E "assertion violated|MEMLIM|depth too small|error" <<<"$out" | head -3
      fail=1
    fi
  done
  [[ $fail == 0 ]] && echo "model holds: never two ACTIVE, epochs never go back"
  exit $fail
fi

# --mutants: each variant must produce an error trail; breadth-first search
# (-DBFS) makes the trail a shortest one.
mutants=(
  "NO_LEASE_CHECK:expiry2"
  "LEASE_FROM_REPLY:expiry+delete"
  "NO_MARK_CHECK:yield+unhealthy"
  "NO_LOCK_DELAY:expiry+delete"
)
# Reachability probes: an assertion that a wanted path is never taken, which
# must be refuted too (else the model would hold vacuously).
probes=(
  "REACH_EXPIRY:expiry2"
  "REACH_DELETE:expiry+delete"
  "REACH_YIELD:yield+unhealthy"
  "REACH_UNHEALTHY:yield+unhealthy"
  "REACH_SESSION2:session2"
)
# A probe-only scope: with 3 agents a leader in its second session needs more
# than 9 ticks; with 2 agents it is reached by tick 9.
configs+=("session2:-DN=2 -DTMAX=9 -DEXPB=1 -DTPD=1 -DYB=0 -DUB=0")
fail=0
only="${2:-}"   # --mutants NAME: that one only
for m in "${mutants[@]}" "${probes[@]}"; do
  [[ -n "$only" && "${m%%:*}" != "$only" ]] && continue
  name="${m%%:*}"; want="${m#*:}"
  caught=""
  for c in "${configs[@]}"; do           # the expected configuration first
    [[ "${c%%:*}" == "$want" ]] && order=("$c" "${order[@]:-}") 
  done
  if [[ $name != REACH_* ]]; then
    for c in "${configs[@]}"; do [[ "${c%%:*}" != "$want" ]] && order+=("$c"); done
  fi
  for c in "${order[@]}"; do
    [[ -z "$c" ]] && continue
    cname="${c%%:*}"; defs="${c#*:}"
    start=$(date +%s.%N)
    run "$common $defs -D$name" "-DBFS"
    secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
    if [[ -f latch.pml.trail ]] && grep -q "errors: [1-9]" <<<"$out"; then
      steps=$(spin -t $common $defs -D$name latch.pml 2>/dev/null | grep -Eo 'trail ends after [0-9]+' | grep -Eo '[0-9]+')
      depth=$(grep -Eo 'at depth [0-9]+' <<<"$out" | head -1 | grep -Eo '[0-9]+')
      what=$(grep -Eo 'assertion violated.*\(at' <<<"$out" | head -1 | sed 's/ (at$//')
      states=$(field '[0-9]+ states, stored')
      word=caught; [[ $name == REACH_* ]] && word=reached
      echo "$word $name ($cname: shortest trail ${steps:-$depth} steps; $states states, ${secs} s; $what)"
      caught=1
      break
    fi
  done
  unset order
  if [[ -z "$caught" ]]; then
    [[ $name == REACH_* ]] && echo "UNREACHED $name" || echo "MISSED $name"
    fail=1
  fi
done
exit $fail
