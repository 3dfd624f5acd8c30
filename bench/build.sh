#!/bin/sh
# Builds the bench programs into bench/out/ (g++ -O2; no CMake: the top-level
# CMakeLists.txt does not know about bench/).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/out"
mkdir -p "$out"
CXX=${CXX:-g++}
CXXFLAGS=${CXXFLAGS:-"-O2 -std=c++20 -Wall -Wextra -pthread"}
for prog in epoll_ceiling socket_load watch_fanout; do
  src="$here/$prog.cc"
  # Rebuild only when the source (or the shared header) is newer than the binary.
  if [ ! -x "$out/$prog" ] || [ "$src" -nt "$out/$prog" ] || [ "$here/bench_util.h" -nt "$out/$prog" ] ||
     [ "$0" -nt "$out/$prog" ]; then
    $CXX $CXXFLAGS -o "$out/$prog.tmp" "$src"
    mv "$out/$prog.tmp" "$out/$prog"
    echo "built $out/$prog"
  fi
done
