#!/usr/bin/env bash
# Installs what latchd needs to build and test on Debian 12: compiler and libraries for the
# daemon (Cyrus SASL, OpenSSL and Kerberos headers for the ZooKeeper C client that
# scripts/build-zk-client.sh builds from Debian's source package), ZooKeeper + Curator + a JDK
# and a Kerberos KDC for the integration tests, python3, curl, netcat.
# Idempotent and quiet: does nothing (not even apt-get update) when all is installed.
set -euo pipefail

packages=(
  g++ cmake make
  libzookeeper-mt-dev libgflags-dev libgoogle-glog-dev prometheus-cpp-dev nlohmann-json3-dev
  libssl-dev libgtest-dev libgmock-dev
  libsasl2-dev libsasl2-modules libsasl2-modules-gssapi-mit libkrb5-dev libzookeeper-java
  krb5-kdc krb5-admin-server krb5-user openssl
  zookeeper libcurator-recipes-java default-jdk-headless
  python3 curl netcat-openbsd socat
  haproxy prometheus libsystemd-dev dpkg-dev clang-14 libclang-rt-14-dev
  libjackson2-databind-java libservlet-api-java junit5 libjetty9-java
  chromium chromium-driver
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
