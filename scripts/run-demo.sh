#!/usr/bin/env bash
# Quick start (a): installs what is needed, builds, and runs the demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
exec bash scripts/demo.sh "$@"
