#!/usr/bin/env bash
# Installs Debian's chromium when it is missing. `npm run docs:check` renders /docs in it (headless,
# through playwright-core, which downloads no browser of its own), so CI runs this first.
set -euo pipefail

if ! command -v chromium >/dev/null; then
  echo "chromium is not installed; installing Debian's package"
  apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }
fi
# Debian's launcher prints a harmless shell warning from /etc/chromium.d/dev-shm on some machines.
chromium --version 2>/dev/null
