#!/usr/bin/env bash
# Installs the Debian packages a purpose needs, when missing (as root, on Debian/Ubuntu).
#   system-deps.sh python   venv support for `make run`
#   system-deps.sh test     + debootstrap, PostgreSQL binaries, sipp, ffmpeg, chromium (the
#                           console's browser tests, driven by Playwright), espeak-ng and
#                           sox (speech analytics' tests) for `make test`
set -euo pipefail
want=()
need() { command -v "$1" >/dev/null 2>&1 || want+=("$2"); }
case "${1:-test}" in
  python) want+=(python3-venv) ;;
  test)
    need debootstrap debootstrap
    need sipp sip-tester
    need ffmpeg ffmpeg
    need chromium chromium
    need runuser util-linux
    # speech analytics' tests: speech synthesised and made telephone audio
    need espeak-ng espeak-ng
    need sox sox
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
    ;;
esac
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: please install: ${want[*]}" >&2
  exit 0
fi
echo "system-deps: installing ${want[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
