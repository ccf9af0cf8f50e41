#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium for the dashboard's browser tests (Playwright
# drives it; it never downloads a browser of its own). Does nothing when it is already there.
# Needs root (apt-get); CI runs as root. Set RHOCONNECT_CHROMIUM to use a browser elsewhere.
set -euo pipefail
CHROMIUM=${RHOCONNECT_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-browser: $CHROMIUM is missing; run as root: apt-get update && apt-get install -y chromium" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
"$CHROMIUM" --version
