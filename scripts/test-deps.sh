#!/usr/bin/env bash
# What the tests need beyond pip, on a Debian machine (the README's test command runs this first; CI has root).
# Real peers the tests drive; nothing is downloaded besides Debian packages.
set -euo pipefail
need=()
need+=(nginx)  # serve: two replicas behind nginx on loopback (tests/test_serve_process.py)
# (each capability adds its Debian packages here)
missing=()
for pkg in "${need[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
