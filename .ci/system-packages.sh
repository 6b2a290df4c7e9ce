#!/usr/bin/env bash
# System packages the sandbox needs on a fresh Debian CI machine: bubblewrap (the preferred local
# isolation) and util-linux (unshare, prlimit, setpriv: the fallback isolation and rlimits).
# Bounded in time; a failure here makes the sandbox tests skip or fall back, not hang.
set -euo pipefail
missing=()
for pkg in bubblewrap util-linux; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    timeout 300 apt-get update -q >/dev/null
    timeout 300 apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  }
fi
bwrap --version
