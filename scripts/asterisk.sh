#!/usr/bin/env bash
# The local Asterisk 22 (in a Debian sid chroot) used by tests, `make asterisk` and `make demo`.
#   asterisk.sh up      build the root if needed, install the config, start (or reload a running one)
#   asterisk.sh down    stop it and release its mounts
#   asterisk.sh rx CMD  run a CLI command
# Environment: ASTERISK_ROOT (cache dir), ASTERISK_CONF (asterisk_conf/), ASTERISK_EXTRA_CONF
# (test-only additions), CALLCENTER_RECORDINGS_DIR (bind-mounted at the same path inside).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=${ASTERISK_ROOT:-/var/cache/callcenter/asterisk-sid}
conf=${ASTERISK_CONF:-$here/asterisk_conf}
extra=${ASTERISK_EXTRA_CONF:-}
recordings=${CALLCENTER_RECORDINGS_DIR:-$here/recordings}

rx() { chroot "$root" asterisk -rx "$1"; }
# var/run inside the root is an absolute link to /run: look through chroot, never from outside
running() { chroot "$root" test -S /var/run/asterisk/asterisk.ctl && rx "core show version" >/dev/null 2>&1; }

mounts() {
  mountpoint -q "$root/proc" || mount --bind /proc "$root/proc"
  mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
  local rec; rec=$(realpath -m "$recordings")
  mkdir -p "$rec" "$root$rec"
  chmod 0777 "$rec"
  mountpoint -q "$root$rec" || mount --bind "$rec" "$root$rec"
}

install_conf() {
  [ -d "$root/etc/asterisk.dist" ] || cp -a "$root/etc/asterisk" "$root/etc/asterisk.dist"
  rm -rf "$root/etc/asterisk"; mkdir -p "$root/etc/asterisk"
  # the PBX's own asterisk.conf (directories) stays Debian's; everything else is ours
  cp "$root/etc/asterisk.dist/asterisk.conf" "$root/etc/asterisk/"
  cp "$conf"/*.conf "$root/etc/asterisk/"
  if [ -n "$extra" ]; then cp "$extra"/*.conf "$root/etc/asterisk/"; fi
  # where the dialplan records by itself when no service answers: the service's recordings
  # directory, bind-mounted at the same path (asterisk_conf/extensions.conf, CC_RECORDINGS_DIR)
  sed -i "s|^CC_RECORDINGS_DIR = .*|CC_RECORDINGS_DIR = $(realpath -m "$recordings")|" \
    "$root/etc/asterisk/extensions.conf"
  # Debian installs the Russian prompts under their voice's name; Asterisk looks for "ru"
  [ -e "$root/usr/share/asterisk/sounds/ru" ] || ln -s ru_RU_f_IvrvoiceRU "$root/usr/share/asterisk/sounds/ru"
  chroot "$root" mkdir -p /var/run/asterisk
  # cel_custom writes into this directory but does not create it (asterisk_conf/cel_custom.conf)
  chroot "$root" mkdir -p /var/log/asterisk/cel-custom
  chroot "$root" chown -R asterisk:asterisk /etc/asterisk /var/run/asterisk /var/log/asterisk \
    /var/spool/asterisk /var/lib/asterisk
}

case "${1:-}" in
  up)
    "$here/scripts/asterisk-root.sh" "$root"
    mounts
    install_conf
    if running; then
      rx "core reload" >/dev/null
      # a module that declined for want of its config is not loaded by a reload
      rx "module load cel_custom.so" >/dev/null 2>&1 || true
      echo "asterisk: reloaded the running one in $root" >&2
    else
      : >"$root/var/log/asterisk/console.log"
      setsid chroot "$root" asterisk -f -U asterisk -G asterisk \
        </dev/null >>"$root/var/log/asterisk/console.log" 2>&1 &
      for _ in $(seq 1 100); do running && break; sleep 0.2; done
      running || { tail -n 20 "$root/var/log/asterisk/console.log" >&2; exit 1; }
      echo "asterisk: started in $root" >&2
    fi
    timeout 60 chroot "$root" asterisk -rx "core waitfullybooted" >/dev/null
    # messages.log shows what was played to whom, in which language
    rx "core set verbose 3" >/dev/null
    ;;
  down)
    if running; then rx "core stop now" >/dev/null 2>&1 || true; fi
    for _ in $(seq 1 50); do running || break; sleep 0.2; done
    rec=$(realpath -m "$recordings")
    for m in "$root$rec" "$root/dev" "$root/proc"; do mountpoint -q "$m" && umount -l "$m"; done
    true
    ;;
  rx) shift; rx "$*" ;;
  *) echo "usage: $0 up|down|rx CMD" >&2; exit 2 ;;
esac
