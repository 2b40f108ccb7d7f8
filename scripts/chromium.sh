#!/usr/bin/env bash
# Installs Debian's Chromium (apt) for the browser tests (tests/e2e) when it is missing. Idempotent.
# Playwright drives this binary (/usr/bin/chromium); it never downloads browsers of its own.
#   scripts/chromium.sh            install if missing, print the version
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BIN=${CHROMIUM_BIN:-/usr/bin/chromium}

if [ ! -x "$BIN" ]; then
  need_apt_package chromium chromium
fi
if [ ! -x "$BIN" ]; then
  log "chromium is still missing at $BIN after apt-get install"
  exit 1
fi
# The Debian wrapper script prints harmless noise on stderr; keep only the version line.
"$BIN" --version 2>/dev/null | head -n 1 >&2 || true
