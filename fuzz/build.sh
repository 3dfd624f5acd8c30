#!/bin/sh
# Builds the libFuzzer targets into fuzz/out/ with clang++-14, AddressSanitizer
# and UndefinedBehaviorSanitizer (no CMake: the library sources each target
# needs are compiled here, once, with coverage instrumentation).
#
#   fuzz/build.sh              all targets
#   fuzz/build.sh core acl     some targets (names without "fuzz_")
#
# Environment: CXX (default clang++-14), FUZZ_OUT (default fuzz/out),
# FUZZ_SANITIZERS (default address,undefined).
# Needs: clang-14 and libclang-rt-14-dev (libFuzzer), libgoogle-glog-dev,
# libgflags-dev, libssl-dev, nlohmann-json3-dev.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${FUZZ_OUT:-$here/out}
CXX=${CXX:-clang++-14}
san=${FUZZ_SANITIZERS:-address,undefined}
all="protocol acl latch_node properties flags http core json"
targets=${*:-$all}

flags="-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=$san -fno-sanitize-recover=undefined"
flags="$flags -Wall -Wextra -Wno-unused-parameter"
# What cmake/zookeeper.cmake defines for the client built with SASL and TLS: the validation
# (lib/api/zk_security_config.cc, BuiltZkClientFeatures) then takes the paths latchd takes.
# No target includes zookeeper.h itself.
flags="$flags -DHAVE_CYRUS_SASL_H -DHAVE_OPENSSL_H"
libs="-lglog -lgflags -lcrypto -pthread"
mkdir -p "$out/obj"

include="-I$root"
http_src="$root/lib/io/http_parser.cc"

# Library objects, instrumented for coverage; rebuilt when the source, any
# library header or this script is newer.
newest_header=$(ls -t "$root"/lib/*/*.h "$root"/tests/sim/*.h "$0" | head -n 1)
objs=""
# Every file of lib/core and lib/util (no I/O, no ZooKeeper client), and the parsers.
lib_srcs=$(cd "$root" && ls lib/core/*.cc lib/util/*.cc)
# The simulated ZooKeeper (tests/sim) for fuzz_core; not the whole-agent
# simulation (sim_agents.cc needs lib/agent and the metrics).
sim_srcs=$(cd "$root" && ls tests/sim/*.cc | grep -v sim_agents)
for src in lib/api/protocol.cc lib/api/agent_config.cc lib/api/atlas_properties.cc lib/api/server_binding.cc \
           lib/api/zk_security_config.cc lib/zk/zk_security.cc \
           lib/zk/acl.cc lib/zk/zk_types.cc $lib_srcs $sim_srcs "$http_src"; do
  case "$src" in /*) path="$src" ;; *) path="$root/$src" ;; esac
  obj="$out/obj/$(basename "$src" .cc).o"
  if [ ! -f "$obj" ] || [ "$path" -nt "$obj" ] || [ "$newest_header" -nt "$obj" ]; then
    echo "compiling $src"
    $CXX $flags -fsanitize=fuzzer-no-link $include -c "$path" -o "$obj.tmp"
    mv "$obj.tmp" "$obj"
  fi
  objs="$objs $obj"
done
rm -f "$out/libfuzzlib.a"
ar rcs "$out/libfuzzlib.a" $objs

for t in $targets; do
  src="$here/fuzz_$t.cc"
  [ -f "$src" ] || { echo "build.sh: no target $t ($src)" >&2; exit 2; }
  bin="$out/fuzz_$t"
  if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ] || [ "$out/libfuzzlib.a" -nt "$bin" ] ||
     [ "$here/fuzz_check.h" -nt "$bin" ]; then
    echo "linking fuzz_$t"
    $CXX $flags -fsanitize=fuzzer $include "$src" "$out/libfuzzlib.a" $libs -o "$bin.tmp"
    mv "$bin.tmp" "$bin"
  fi
done
echo "built: $(for t in $targets; do printf '%s ' "$out/fuzz_$t"; done)"
