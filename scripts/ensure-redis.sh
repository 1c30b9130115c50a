#!/usr/bin/env bash
# Install redis-server with the system's package manager when we can; otherwise say what to install.
set -eu
command -v redis-server >/dev/null 2>&1 && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo -n"
if command -v apt-get >/dev/null 2>&1; then
  $sudo apt-get update -qq && $sudo apt-get install -y -qq redis-server >/dev/null && exit 0
elif command -v brew >/dev/null 2>&1; then
  brew install redis && exit 0
elif command -v dnf >/dev/null 2>&1; then
  $sudo dnf install -y redis && exit 0
elif command -v apk >/dev/null 2>&1; then
  $sudo apk add redis && exit 0
fi
echo "buffer-bridge needs redis-server on PATH: install the 'redis-server' (Debian/Ubuntu) or 'redis' package and try again." >&2
exit 1
