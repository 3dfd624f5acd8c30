#!/usr/bin/env bash
# Builds ZooKeeper's C client with Cyrus SASL and OpenSSL from Debian's own source package, as
# static libraries that latchd links (CMakeLists.txt, cmake/zookeeper.cmake). Debian 12's
# libzookeeper-mt2 is built without both (no zookeeper_init_sasl, no zookeeper_init_ssl).
#
#   scripts/build-zk-client.sh            build unless cached; prints the install prefix
#
# Steps (as root on a fresh Debian 12 machine; needs scripts/install-deps.sh's packages):
#  1. a deb-src entry for the same archive and suites as the machine's deb entries
#     (/etc/apt/sources.list.d/latchd-deb-src.sources, or .list for a one-line sources.list),
#     then `apt-get update` -- only when `apt-cache showsrc zookeeper` lacks the version;
#  2. `apt-get source zookeeper=<V>`, V = the installed libzookeeper-java version (its jars
#     hold the jute compiler; the C client and the Java server come from one source);
#  3. zookeeper.jute.{c,h} generated with that jute compiler (the source does not ship them);
#  4. the client's CMake build (WITH_CYRUS_SASL, WITH_OPENSSL, position-independent code),
#     with one compatibility shim: 3.8.0 calls FIPS_mode(), which OpenSSL 3 removed; a forced
#     include maps it to EVP_default_properties_is_fips_enabled(NULL). Debian's source is not
#     changed.
# The result: <cache>/<V>-<recipe hash>/{include/zookeeper/*.h, lib/*.a}, and the link
# <cache>/current to it. The cache is $LATCHD_CACHE_DIR/zookeeper-client (default:
# <repo>/.cache/zookeeper-client, ignored by git, kept by `rm -rf build`). A changed version or
# a changed recipe (this file) builds a new directory; the downloaded source is kept per
# version. Takes about a minute on 2 cores; a cached call returns at once.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${LATCHD_CACHE_DIR:-$root/.cache}/zookeeper-client
jute_jar=/usr/share/java/zookeeper-jute.jar

say() { echo "build-zk-client: $*" >&2; }
die() { say "$*"; exit 1; }

version=$(dpkg-query -W -f='${Version}' libzookeeper-java 2>/dev/null) ||
  die "libzookeeper-java is not installed (run scripts/install-deps.sh)"
[[ -f $jute_jar ]] || die "$jute_jar is missing (libzookeeper-java)"
recipe=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
prefix=$cache/$version-$recipe

if [[ -f $prefix/.complete ]]; then
  ln -sfn "$(basename "$prefix")" "$cache/current"
  echo "$prefix"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9  # one build at a time; the second caller finds the first one's result
if [[ -f $prefix/.complete ]]; then
  ln -sfn "$(basename "$prefix")" "$cache/current"
  echo "$prefix"
  exit 0
fi
t0=$(date +%s)

# -- 1. deb-src ------------------------------------------------------------------------------
# (grep without -q: an early exit would make apt-cache fail with SIGPIPE under pipefail)
have_source() { apt-cache showsrc zookeeper 2>/dev/null | grep -x "Version: $version" >/dev/null; }
if ! have_source; then
  [[ $(id -u) -eq 0 ]] || die "need root to add a deb-src entry (or add one for Debian's archive yourself)"
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    # deb822: every enabled stanza of type deb (and not already deb-src), as deb-src.
    awk '
      function flush() { if (deb && !src && !off) printf "%s\n", buf; buf = ""; deb = src = off = 0 }
      /^[ \t]*$/ { flush(); next }
      /^Types:/ { if ($0 ~ /[ \t]deb([ \t]|$)/) deb = 1; if ($0 ~ /deb-src/) src = 1
                  buf = buf "Types: deb-src\n"; next }
      /^Enabled:[ \t]*no/ { off = 1 }
      { buf = buf $0 "\n" }
      END { flush() }' /etc/apt/sources.list.d/debian.sources \
      >/etc/apt/sources.list.d/latchd-deb-src.sources
  fi
  if [[ -f /etc/apt/sources.list ]]; then
    sed -n 's/^[ \t]*deb[ \t]\+/deb-src /p' /etc/apt/sources.list \
      >/etc/apt/sources.list.d/latchd-deb-src.list
  fi
  say "added a deb-src entry for Debian's archive; apt-get update"
  apt-get update -qq
  have_source || die "Debian's archive has no source package zookeeper=$version"
fi

# -- 2. the source package -------------------------------------------------------------------
srcdir=$cache/source/$version
if [[ ! -f $srcdir/.complete ]]; then
  rm -rf "$srcdir"
  mkdir -p "$srcdir"
  say "apt-get source zookeeper=$version"
  # The _apt user cannot write into root's cache directory: the download runs as root.
  (cd "$srcdir" && apt-get source -qq --download-only "zookeeper=$version" 2>&1 |
     grep -v "unsandboxed as root" >&2 || true)
  ls "$srcdir"/*.dsc >/dev/null 2>&1 || die "apt-get source zookeeper=$version downloaded nothing"
  touch "$srcdir/.complete"
fi

work=$(mktemp -d "$cache/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-source --no-check -x "$srcdir"/*.dsc "$work/src" >/dev/null
client=$work/src/zookeeper-client/zookeeper-client-c

# -- 3. jute ---------------------------------------------------------------------------------
mkdir -p "$client/generated"
(cd "$client/generated" &&
   java -cp "$jute_jar" org.apache.jute.compiler.generated.Rcc -l c \
     "$work/src/zookeeper-jute/src/main/resources/zookeeper.jute" >/dev/null)
[[ -f $client/generated/zookeeper.jute.c ]] || die "the jute compiler made no zookeeper.jute.c"

# -- 4. build ---------------------------------------------------------------------------------
cat >"$work/openssl3-compat.h" <<'EOF'
/* Forced include for ZooKeeper 3.8.0's C client: OpenSSL 3 has no FIPS_mode(). */
#include <openssl/evp.h>
#define FIPS_mode() EVP_default_properties_is_fips_enabled(NULL)
EOF
cmake -S "$client" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWANT_CPPUNIT=OFF \
  -DWITH_CYRUS_SASL=ON -DWITH_OPENSSL=ON -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  "-DCMAKE_C_FLAGS=-include $work/openssl3-compat.h" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log" >&2; die "configuring the C client failed"; }
grep -q "Cyrus SASL 2.x found" "$work/configure.log" || die "the C client's CMake found no Cyrus SASL (libsasl2-dev)"
grep -q "OpenSSL libraries found" "$work/configure.log" || die "the C client's CMake found no OpenSSL (libssl-dev)"
make -C "$work/build" -j"$(nproc)" --no-print-directory zookeeper >"$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log" >&2; die "building the C client failed"; }

# -- install into the cache ------------------------------------------------------------------
stage=$work/prefix
mkdir -p "$stage/include/zookeeper" "$stage/lib"
cp "$client"/include/{proto.h,recordio.h,zookeeper.h,zookeeper_log.h,zookeeper_version.h} \
   "$client/generated/zookeeper.jute.h" "$stage/include/zookeeper/"
cp "$work/build/libzookeeper.a" "$work/build/libhashtable.a" "$stage/lib/"
nm "$stage/lib/libzookeeper.a" | grep " T zookeeper_init_sasl$" >/dev/null || die "no zookeeper_init_sasl in the build"
nm "$stage/lib/libzookeeper.a" | grep " T zookeeper_init_ssl$" >/dev/null || die "no zookeeper_init_ssl in the build"
printf 'zookeeper %s (Debian source package), Cyrus SASL and OpenSSL, recipe %s\n' \
  "$version" "$recipe" >"$stage/BUILD-INFO"
rm -rf "$prefix"
mv "$stage" "$prefix"
touch "$prefix/.complete"
ln -sfn "$(basename "$prefix")" "$cache/current"
say "built the C client $version with SASL and TLS in $(( $(date +%s) - t0 )) s: $prefix"
echo "$prefix"
