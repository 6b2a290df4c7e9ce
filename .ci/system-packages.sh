#!/usr/bin/env bash
# System packages the sandbox needs on a fresh Debian CI machine: bubblewrap (the preferred local
# isolation) and util-linux (unshare, prlimit, setpriv: the fallback isolation and rlimits).
# Bounded in time; a failure here makes the sandbox tests skip or fall back, not hang.
set -euo pipefail
# shellcheck source=.ci/lib.sh
. "$(dirname "$0")/lib.sh"
apt_install bubblewrap util-linux
bwrap --version
