#!/usr/bin/env bash
# Builds (once) a Debian sid root holding Asterisk 22; bookworm has no Asterisk package.
# The mirror is read from this machine's own apt sources so no host name lives in the repo.
set -euo pipefail
root=${1:?usage: asterisk-root.sh DIR}
if [ -x "$root/usr/sbin/asterisk" ]; then exit 0; fi
command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }
mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v -e security -e nodesource -e google | head -n1)
if [ -z "$mirror" ]; then
  mirror=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v -e security -e nodesource -e google | head -n1)
fi
[ -n "$mirror" ] || { echo "asterisk-root: no Debian mirror found in /etc/apt/sources*" >&2; exit 1; }
tmp="$root.partial"
rm -rf "$tmp"
mkdir -p "$(dirname "$root")"
echo "asterisk-root: debootstrap sid into $root (about a minute, 500 MB)" >&2
debootstrap --variant=minbase \
  --include=asterisk,asterisk-core-sounds-en-gsm,asterisk-core-sounds-ru-gsm \
  sid "$tmp" "$mirror" >"$tmp.log" 2>&1 || { tail -n 30 "$tmp.log" >&2; exit 1; }
mv "$tmp" "$root"
