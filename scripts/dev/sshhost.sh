#!/bin/sh
# A source host reached over SSH, for the e2e test of the source mode ssh: a network namespace of
# its own joined to this machine by a veth pair (this machine 10.89.0.1, the host 10.89.0.2, and
# nothing at 10.89.0.3: an unreachable host for the tests), with Debian's OpenSSH server (unpacked
# from its package into the cache, not installed as a service) and a MariaDB seeded with the sample databases that listens on the host's own loopback only, so
# only a dump that runs on the host reaches it. Its SSH user, ferry-ssh, logs in with a key made
# here; its host key is made here too and printed by `host-key`. In the server's mount namespace
# /usr/local/bin holds ferry-dataplane, as docs/real-clusters.md asks of a source host, and /etc/passwd the
# users sshd needs; nothing of this machine's own configuration changes.
#
# Usage: scripts/dev/sshhost.sh up | down | host-key | status
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)
dir="$repo/.ferry/sshhost"
secrets="$repo/.ferry/dev-secrets"
FERRY_CACHE=${FERRY_CACHE:-$HOME/.cache/ferry}
namespace=ferry-sshhost
link=ferry-ssh0
address=10.89.0.2
gateway=10.89.0.1
user=ferry-ssh
uid=64500

say() { printf 'ferry sshhost: %s\n' "$*" >&2; }
# shellcheck source=scripts/dev/processes.sh
. scripts/dev/processes.sh
# shellcheck source=scripts/dev/sample-data.sh
. scripts/dev/sample-data.sh
# shellcheck source=scripts/dev/dev-tls.sh
. scripts/dev/dev-tls.sh

# openssh_server: the directory of Debian's openssh-server package, unpacked once per version.
openssh_server() {
  version=$(apt-cache show --no-all-versions openssh-server 2>/dev/null | sed -n 's/^Version: //p')
  if [ -z "$version" ]; then
    apt-get update -qq >&2
    version=$(apt-cache show --no-all-versions openssh-server | sed -n 's/^Version: //p')
  fi
  target="$FERRY_CACHE/tools/openssh-server-$(printf '%s' "$version" | tr ':+~' '___')"
  if [ ! -x "$target/usr/sbin/sshd" ]; then
    say "unpacking openssh-server $version"
    rm -rf "$target.partial"
    mkdir -p "$target.partial"
    (cd "$target.partial" && apt-get download "openssh-server=$version" >/dev/null 2>&1)
    dpkg-deb -x "$target.partial"/openssh-server_*.deb "$target.partial"
    rm -f "$target.partial"/openssh-server_*.deb
    rm -rf "$target"
    mv "$target.partial" "$target"
  fi
  printf '%s\n' "$target"
}

network() {
  namespace_link "$namespace" "$link" "$gateway" "$address" 29
}

keys() {
  mkdir -p "$dir"
  [ -s "$dir/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C ferry-sshhost -f "$dir/ssh_host_ed25519_key"
  # The client's key is a dev secret like the others: the demo and the e2e read it from there.
  if [ ! -s "$secrets/sshPrivateKey" ]; then
    (umask 077 && mkdir -p "$secrets")
    ssh-keygen -q -t ed25519 -N '' -C ferry-demo -f "$secrets/sshPrivateKey"
  fi
}

# boot, inside the host's network namespace and a mount namespace of its own: the files the
# server reads, then the server in the foreground.
boot() {
  sshd=$1
  dataplane=$2
  mount -t tmpfs -o mode=755 tmpfs /run
  mkdir -p /run/sshd /run/etc "/run/home/$user/.ssh"
  cp /etc/passwd /etc/group /run/etc/
  # The privilege separation user sshd needs and the SSH user, who may log in with a key only.
  printf 'sshd:x:64501:65534::/run/sshd:/usr/sbin/nologin\n%s:x:%s:%s::/run/home/%s:/bin/sh\n' \
    "$user" "$uid" "$uid" "$user" >>/run/etc/passwd
  printf '%s:x:%s:\n' "$user" "$uid" >>/run/etc/group
  printf 'sshd:*:20000::::::\n%s:*:20000::::::\n' "$user" >/run/etc/shadow
  grep -v '^\(sshd\|'"$user"'\):' /etc/shadow >>/run/etc/shadow
  chmod 600 /run/etc/shadow
  for file in passwd group shadow; do mount --bind "/run/etc/$file" "/etc/$file"; done
  cp "$secrets/sshPrivateKey.pub" "/run/home/$user/.ssh/authorized_keys"
  chown -R "$uid:$uid" "/run/home/$user"
  chmod 700 "/run/home/$user/.ssh"
  mount --bind "$dataplane" /usr/local/bin
  cat >/run/sshd_config <<CONFIG
ListenAddress $address
Port 22
HostKey $dir/ssh_host_ed25519_key
PidFile none
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $user
UsePAM no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
LogLevel VERBOSE
CONFIG
  exec "$sshd" -D -f /run/sshd_config -E "$dir/sshd.log"
}

up() {
  tools_path=$(sh scripts/build/tools.sh)
  dataplane=$(dirname "$(PATH="$tools_path:$PATH" command -v ferry-dataplane)")
  server=$(openssh_server)
  keys
  network
  tls=$(dev_tls "$repo")
  if ! running mariadb; then
    if [ ! -d "$dir/mariadb" ]; then
      mariadb-install-db --no-defaults --datadir="$dir/mariadb" --auth-root-authentication-method=socket \
        --skip-test-db --user=root >"$dir/mariadb-install.log" 2>&1
      fresh=1
    fi
    # The physical method copies the server's files as the SSH user, who reads them as a DBA's
    # mysql group would: the files its group's, the directories setgid so new files are too, and
    # the server's UMASK leaves them group-readable.
    chgrp -R "$uid" "$dir/mariadb"
    chmod -R g+rX "$dir/mariadb"
    find "$dir/mariadb" -type d -exec chmod g+s {} +
    # On the host's loopback: only what runs on the host reaches it; TLS required (dev-tls.sh).
    # shellcheck disable=SC2046 # one option a line, none with a space
    start mariadb env UMASK=0640 UMASK_DIR=0750 ip netns exec "$namespace" mariadbd --no-defaults --datadir="$dir/mariadb" \
      --socket="$dir/mariadb.sock" --port=3306 --bind-address=127.0.0.1 --user=root \
      --log-bin="$dir/binlog" --server-id=2 --binlog-format=ROW --character-set-server=utf8mb4 $(dev_tls_server_settings "$tls")
    wait_for mariadb 60 sql -e 'SELECT 1'
    if [ "${fresh:-0}" = 1 ]; then
      say "seeding the sample databases shop and crm on the SSH host"
      seed_sql 127.0.0.1 sshSourcePassword | sql mysql
    fi
  fi
  # The host key pinned by the stack must be the one the server was started with.
  if ! running sshd; then
    start sshd ip netns exec "$namespace" unshare --mount --propagation private \
      sh scripts/dev/sshhost.sh boot "$server/usr/sbin/sshd" "$dataplane"
    wait_for sshd 30 sh -c "ip netns exec $namespace ss -Hltn 'sport = :22' | grep -q LISTEN"
  fi
  say "up: $user@$address:22 (host key in $dir), MariaDB on the host's 127.0.0.1:3306 (shop, crm)"
}

down() {
  stop sshd
  stop mariadb
  ip link del "$link" 2>/dev/null || true
  ip netns del "$namespace" 2>/dev/null || true
  say "down: stopped (data and keys kept in .ferry/sshhost)"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  boot)
    shift
    boot "$@"
    ;;
  host-key) cut -d ' ' -f 1-2 "$dir/ssh_host_ed25519_key.pub" ;;
  status)
    for name in sshd mariadb; do
      if running "$name"; then echo "$name: running"; else echo "$name: stopped"; fi
    done
    ;;
  *)
    echo "usage: scripts/dev/sshhost.sh up | down | host-key | status" >&2
    exit 2
    ;;
esac
