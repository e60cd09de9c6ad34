#!/usr/bin/env bash
# Installs Debian's redis-server when it is missing. The test suite starts its own throwaway
# redis-server (test/process/redis-rate-limit.test.ts) and fails without the binary, so CI runs
# this before the tests. The package's own service is not needed (and stays down in containers).
set -euo pipefail

if ! command -v redis-server >/dev/null; then
  echo "redis-server is not installed; installing Debian's package"
  apt-get install -y redis-server || { apt-get update && apt-get install -y redis-server; }
fi
redis-server --version
