#!/usr/bin/env bash
# Debian's chromium for the headless-browser test of report.html. Installs it when missing
# and this user may (root, or passwordless sudo); otherwise says how.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -n "${MLQA_CHROMIUM:-}" ]; then
  exit 0
fi
if [ "${MLQA_ALLOW_NO_BROWSER:-}" = "1" ]; then
  echo "chromium missing; MLQA_ALLOW_NO_BROWSER=1: the browser test will be skipped" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "chromium is missing and installing it needs root: sudo apt-get install chromium" >&2
    echo "(or set MLQA_CHROMIUM=/path/to/chromium, or MLQA_ALLOW_NO_BROWSER=1 to skip that test)" >&2
    exit 1
  fi
fi
echo "installing Debian's chromium for the report.html browser test..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
