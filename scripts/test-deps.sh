#!/usr/bin/env bash
# What the tests need beyond pip, on a Debian machine (the README's test command runs this first; CI has root).
# Real peers the tests drive; nothing is downloaded besides Debian packages.
set -euo pipefail
need=()
need+=(nginx)  # serve: two replicas behind nginx on loopback (tests/test_serve_process.py)
need+=(chromium)  # web: the site in a real browser, driven by Playwright from PyPI (tests/test_web.py); no browser download
# web: Node runs the JS tokenizer and transformers.js (tests/test_web.py). A Node already on PATH is kept: NodeSource's
# nodejs bundles npm and conflicts with Debian's npm package, which would replace it.
{ command -v node && command -v npm; } >/dev/null || need+=(nodejs npm)
# (each capability adds its Debian packages here)
missing=()
for pkg in "${need[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  # Debian's nginx postinst starts the system service (port 80) and fails the install if it cannot start (no init):
  # the tests start their own nginx, so deny service starts during the install, as container images do.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# web: onnxruntime-web (copied into sites) and transformers.js, exactly as web/package-lock.json pins them. No install
# scripts: onnxruntime-node's postinstall downloads GPU binaries from outside (its CPU binding ships in the package).
(cd "$(dirname "$0")/../web" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
