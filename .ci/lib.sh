# Shared helpers for the CI scripts (sourced, not run).

# apt_install PKG...: install the Debian packages that are missing, bounded in time; retries
# once after `apt-get update` (a fresh machine has no package lists yet).
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "ci: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    timeout 300 apt-get update -q >/dev/null
    timeout 300 apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  }
}
