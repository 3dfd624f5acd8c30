#!/usr/bin/env bash
# Builds latchd's Java client offline with the JDK and Debian's jars from /usr/share/java:
#   <out>/latchd-client.jar      the library (io.latchd.client, io.latchd.servlet)
#   <out>/javadoc/               its javadoc (and <out>/latchd-client-javadoc.jar)
#   <out>/test-classes/          the JUnit 5 tests (java/src/test)
# <out> is $1 or build/java under the repository. Nothing is downloaded.
# Debian packages: default-jdk-headless libjackson2-databind-java libservlet-api-java
# (compile only, for the filter) and, for the tests, junit5 libjetty9-java.
# Usage: java/build.sh [OUT_DIR] [--no-tests] [--no-javadoc]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
out="$repo/build/java"
tests=1
javadoc=1
for a in "$@"; do
  case "$a" in
    --no-tests) tests=0 ;;
    --no-javadoc) javadoc=0 ;;
    -*) echo "build.sh: unknown option $a" >&2; exit 2 ;;
    *) out=$a ;;
  esac
done
J=/usr/share/java
need() {
  for f in "$@"; do
    [[ -f "$J/$f" ]] || { echo "build.sh: $J/$f missing (install the Debian package that ships it)" >&2; exit 1; }
  done
}
need jackson-databind.jar jackson-core.jar jackson-annotations.jar servlet-api.jar
JSON_CP="$J/jackson-databind.jar:$J/jackson-core.jar:$J/jackson-annotations.jar"
MAIN_CP="$JSON_CP:$J/servlet-api.jar"
JAVAC=(javac --release 17 -encoding UTF-8 -Xlint:all,-serial,-options,-path -Werror -proc:none)

mkdir -p "$out"
main_src=$(find "$here/src/main/java" -name '*.java' | sort)
jarfile="$out/latchd-client.jar"
stale=1
if [[ -f "$jarfile" ]] && [[ -z $(find "$here/src/main" "$0" -newer "$jarfile" -print -quit) ]]; then
  stale=0
fi
if [[ $stale -eq 1 ]]; then
  rm -rf "$out/classes"
  mkdir -p "$out/classes"
  # shellcheck disable=SC2086
  "${JAVAC[@]}" -cp "$MAIN_CP" -d "$out/classes" $main_src
  version=$(sed -n 's/^project(latchd VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt" | head -1)
  cat > "$out/MANIFEST.MF" <<MF
Manifest-Version: 1.0
Implementation-Title: latchd-client
Implementation-Version: ${version:-0}
Automatic-Module-Name: io.latchd.client
Class-Path: jackson-databind.jar jackson-core.jar jackson-annotations.jar
MF
  rm -f "$jarfile"
  jar --create --file "$jarfile" --manifest "$out/MANIFEST.MF" -C "$out/classes" .
  echo "build.sh: $jarfile"
  if [[ $javadoc -eq 1 ]]; then
    rm -rf "$out/javadoc"
    # shellcheck disable=SC2086
    javadoc -quiet -Xdoclint:all,-missing -encoding UTF-8 -cp "$MAIN_CP" -d "$out/javadoc" \
      -windowtitle "latchd Java client" $main_src >"$out/javadoc.log" 2>&1 ||
      { cat "$out/javadoc.log" >&2; exit 1; }
    rm -f "$out/latchd-client-javadoc.jar"
    jar --create --file "$out/latchd-client-javadoc.jar" -C "$out/javadoc" .
    echo "build.sh: $out/javadoc"
  fi
fi

if [[ $tests -eq 1 ]]; then
  need junit-jupiter-api.jar jetty9-server.jar jetty9-servlet.jar jetty9-util.jar jetty9-http.jar jetty9-io.jar
  TEST_CP="$jarfile:$MAIN_CP:$J/junit-jupiter-api.jar:$J/apiguardian-api.jar:$J/opentest4j.jar"
  TEST_CP="$TEST_CP:$J/jetty9-server.jar:$J/jetty9-servlet.jar:$J/jetty9-util.jar:$J/jetty9-http.jar:$J/jetty9-io.jar:$J/jetty9-security.jar"
  tc="$out/test-classes"
  if [[ ! -d "$tc" ]] || [[ -n $(find "$here/src/test" "$jarfile" -newer "$tc/.ok" -print -quit 2>/dev/null) ]] || [[ ! -f "$tc/.ok" ]]; then
    rm -rf "$tc"
    mkdir -p "$tc"
    # shellcheck disable=SC2046
    "${JAVAC[@]}" -Xlint:-processing -cp "$TEST_CP" -d "$tc" $(find "$here/src/test/java" -name '*.java' | sort)
    touch "$tc/.ok"
    echo "build.sh: $tc"
  fi
  # The class path the tests run with (for the JUnit console launcher).
  echo "$tc:$TEST_CP:$J/jetty9-util-ajax.jar" > "$out/test-classpath.txt"
fi
