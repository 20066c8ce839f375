#!/usr/bin/env bash
# Installs a lambdalet .deb for this machine's architecture in a throwaway copy of the root
# (an overlay in a private mount namespace: nothing on the host changes) and checks what its
# maintainer scripts do: the system user, the functions' uids reserved, the settings file,
# the service enabled, a reinstall that changes nothing, remove keeping the settings, purge
# removing them. `make dist` runs it on the amd64 package; needs root.
#
#   scripts/deb-check.sh dist/lambdalet_<version>_amd64.deb
set -euo pipefail
deb=$(realpath "$1")
[ "$(id -u)" = 0 ] || { echo "scripts/deb-check.sh: needs root (a mount namespace and chroot)" >&2; exit 2; }
exec unshare --mount --propagation private bash -euo pipefail -c '
  deb=$1
  fail() { echo "deb-check: $*" >&2; exit 1; }
  t=$(mktemp -d); mount -t tmpfs tmpfs "$t"
  mkdir -p "$t/upper" "$t/work" "$t/root"
  mount -t overlay overlay -o "lowerdir=/,upperdir=$t/upper,workdir=$t/work" "$t/root"
  r=$t/root
  mount -t proc proc "$r/proc"; mount --bind /dev "$r/dev"
  mount -t tmpfs tmpfs "$r/run"; mount -t tmpfs tmpfs "$r/tmp"
  cp "$deb" "$r/tmp/l.deb"
  inroot() { chroot "$r" "$@"; }
  inroot dpkg -i /tmp/l.deb >/dev/null || fail "dpkg -i failed"
  inroot getent passwd lambdalet | grep -q ":/var/lib/lambdalet:/usr/sbin/nologin$" || fail "no lambdalet system user"
  for f in /etc/subuid /etc/subgid; do
    [ "$(inroot grep -c "^lambdalet:2000000:1000000$" $f)" = 1 ] || fail "$f does not reserve the uids once"
  done
  [ "$(inroot stat -c %a /etc/lambdalet/config.toml)" = 640 ] || fail "config.toml is not 0640"
  inroot test -L /etc/systemd/system/multi-user.target.wants/lambdalet.service || fail "the service is not enabled"
  inroot /usr/bin/lambdalet --version >/dev/null || fail "/usr/bin/lambdalet does not run"
  inroot dpkg -i /tmp/l.deb >/dev/null || fail "a reinstall failed"
  [ "$(inroot grep -c "^lambdalet:" /etc/subuid)" = 1 ] || fail "a reinstall added the uids again"
  inroot dpkg -r lambdalet >/dev/null || fail "dpkg -r failed"
  inroot test -f /etc/lambdalet/config.toml || fail "remove took the settings"
  inroot test ! -e /usr/bin/lambdalet || fail "remove left the binary"
  inroot dpkg -P lambdalet >/dev/null || fail "dpkg -P failed"
  inroot test ! -e /etc/lambdalet/config.toml || fail "purge left the settings"
  echo "deb-check: $(basename "$deb"): installs, makes the lambdalet user and its uids, enables the service, reinstalls, removes and purges cleanly"
' deb-check "$deb"
