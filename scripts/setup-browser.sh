#!/usr/bin/env bash
# Installs what the browser tests need: Debian's Chromium and a CJK font so Chinese renders in the
# screenshots. Playwright drives this Chromium (executable_path); it never downloads a browser.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -i "noto.*cjk" >/dev/null; then
  echo "setup: chromium ready"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: the browser tests need Debian's chromium and fonts-noto-cjk: sudo apt-get install chromium fonts-noto-cjk" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
echo "setup: chromium installed"
