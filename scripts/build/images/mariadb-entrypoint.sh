#!/bin/sh
# Entrypoint of the local MariaDB image (scripts/build/images.sh), with the official images' contract
# that ferry relies on: on an empty data directory it initialises one, sets the root password from
# MYSQL_ROOT_PASSWORD_FILE (or MARIADB_ROOT_PASSWORD_FILE) for root@localhost and root@'%', runs
# /docker-entrypoint-initdb.d/*.sql, then serves on port 3306 as user mysql.
set -eu
datadir=/var/lib/mysql
password_file=${MYSQL_ROOT_PASSWORD_FILE:-${MARIADB_ROOT_PASSWORD_FILE:-}}

say() { printf 'ferry-mariadb: %s\n' "$*" >&2; }

# As root (a plain pod) the server runs as mysql; as any other user (the restricted Pod Security
# Standard: runAsNonRoot, a numeric runAsUser) it runs as that user, in a data directory the pod's
# fsGroup makes writable.
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$datadir" /run/mysqld
  chown mysql:mysql "$datadir" /run/mysqld
  as_user=--user=mysql
else
  as_user=
fi

if [ ! -d "$datadir/mysql" ]; then
  if [ -z "$password_file" ] || [ ! -r "$password_file" ]; then
    say "the data directory is empty and no root password file was given: set MYSQL_ROOT_PASSWORD_FILE"
    exit 1
  fi
  say "initialising $datadir"
  # shellcheck disable=SC2086 # as_user is one option or none
  mariadb-install-db $as_user --datadir="$datadir" --skip-test-db \
    --auth-root-authentication-method=normal >/dev/null
  # shellcheck disable=SC2086 # as_user is one option or none
  mariadbd $as_user --datadir="$datadir" --skip-networking --socket=/run/mysqld/init.sock &
  init_pid=$!
  waited=0
  until mariadb --socket=/run/mysqld/init.sock -uroot -e 'SELECT 1' >/dev/null 2>&1; do
    waited=$((waited + 1))
    [ "$waited" -lt 60 ] || { say "the server did not start for initialisation"; exit 1; }
    sleep 1
  done
  # The password goes to the server on stdin, never on a command line.
  if ! {
    password=$(cat "$password_file")
    escaped=$(printf '%s' "$password" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g")
    printf "ALTER USER 'root'@'localhost' IDENTIFIED BY '%s';\n" "$escaped"
    printf "CREATE USER 'root'@'%%' IDENTIFIED BY '%s';\n" "$escaped"
    printf "GRANT ALL ON *.* TO 'root'@'%%' WITH GRANT OPTION;\n"
    # mariadb-install-db also makes root accounts without a password for these hosts.
    printf "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', 'root'@'%s';\n" "$(hostname)"
    for file in /docker-entrypoint-initdb.d/*.sql; do
      [ ! -f "$file" ] || cat "$file"
    done
  } | mariadb --socket=/run/mysqld/init.sock -uroot; then
    # Half an initialisation must not pass for a database: the next start begins again.
    kill "$init_pid"
    wait "$init_pid" || true
    find "$datadir" -mindepth 1 -delete
    say "initialisation failed (see the error above); the data directory was emptied"
    exit 1
  fi
  kill "$init_pid"
  wait "$init_pid" || true
  say "initialised"
fi

# shellcheck disable=SC2086 # as_user is one option or none
exec mariadbd $as_user --datadir="$datadir" --bind-address=0.0.0.0 --port=3306 \
  --socket=/run/mysqld/mysqld.sock "$@"
