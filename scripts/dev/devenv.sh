#!/bin/sh
# The dev stack's source database and object store, on this machine only: MariaDB on
# 127.0.0.1:13306 seeded with the sample databases shop and crm, and MinIO on the local cluster's
# bridge address 10.88.0.1:19000, where both this machine and the cluster's pods reach it (so the
# cluster, scripts/dev/cluster.sh, comes up first).
# Their secrets are generated once into .ferry/dev-secrets (0600) and read from there by the demo.
#
# Usage: scripts/dev/devenv.sh up | down
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)
dir="$repo/.ferry/devenv"
secrets="$repo/.ferry/dev-secrets"
# shellcheck source=scripts/build/versions.env
. scripts/build/versions.env
minio_host=$NODE_ADDRESS

say() { printf 'ferry devenv: %s\n' "$*" >&2; }
# shellcheck source=scripts/dev/processes.sh
. scripts/dev/processes.sh

# shellcheck source=scripts/dev/sample-data.sh
. scripts/dev/sample-data.sh
# shellcheck source=scripts/dev/dev-tls.sh
. scripts/dev/dev-tls.sh

up() {
  tools_path=$(sh scripts/build/tools.sh)
  PATH="$tools_path:$PATH"
  mkdir -p "$dir"
  tls=$(dev_tls "$repo")
  if ! running mariadb; then
    if [ ! -d "$dir/mariadb" ]; then
      mariadb-install-db --no-defaults --datadir="$dir/mariadb" --auth-root-authentication-method=socket \
        --skip-test-db --user=root >"$dir/mariadb-install.log" 2>&1
      fresh=1
    fi
    # TLS required of every TCP session, with the dev sources' certificate (dev-tls.sh).
    # shellcheck disable=SC2046 # one option a line, none with a space
    start mariadb mariadbd --no-defaults --datadir="$dir/mariadb" --socket="$dir/mariadb.sock" --port=13306 \
      --bind-address=127.0.0.1 --user=root --log-bin="$dir/binlog" --server-id=1 --binlog-format=ROW \
      --character-set-server=utf8mb4 $(dev_tls_server_settings "$tls")
    wait_for mariadb 60 sql -e 'SELECT 1'
    if [ "${fresh:-0}" = 1 ]; then
      say "seeding the source databases shop and crm"
      seed_sql 127.0.0.1 | sql mysql
    fi
  fi
  if ! running minio; then
    ip -4 addr show ferry0 2>/dev/null | grep -q "inet $minio_host/" || {
      say "the local cluster's bridge ferry0 ($minio_host) is not up: run scripts/dev/cluster.sh up first"
      exit 1
    }
    # The root password reaches MinIO through its environment only, never its arguments.
    (
      MINIO_ROOT_USER=ferry-admin
      MINIO_ROOT_PASSWORD=$(secret objectStoreSecretKey)
      MINIO_BROWSER=off
      export MINIO_ROOT_USER MINIO_ROOT_PASSWORD MINIO_BROWSER
      # https only, with the dev servers' certificate (dev-tls.sh).
      start minio minio server "$dir/minio" --address "$minio_host:19000" \
        --console-address 127.0.0.1:19001 --certs-dir "$(dev_tls_minio_certs "$tls")" --quiet
    )
    wait_for minio 60 curl -fsS --cacert "$tls/ca.crt" "https://$minio_host:19000/minio/health/ready"
  fi
  secret destinationRootPassword >/dev/null
  cluster_source
  say "up: MariaDB source on 127.0.0.1:13306 and in the source cluster (NodePort 10.90.0.2:30306) (shop, crm), MinIO on $minio_host:19000"
}

# The same sample databases in a MariaDB pod of the local source cluster (namespace ferry-source,
# Service source-db), for the source mode kubernetes. Its data is on a claim (source-db-data, a local
# volume of the source node in .ferry/cluster-source/volumes), as a real server's is, so that the
# physical method can copy it (ferry:source.kubernetes.dataVolume); the server runs as user 999 like
# the official image's, and a new seed empties it (its init container) so that the seed runs again.
# Outside that cluster it is reached the way a database in a real one is: on its node's address at
# the Service's node port, 10.90.0.2:30306 (the tests read it there to compare).
cluster_source() {
  kubectl_bin="$(sh scripts/build/cluster-tools.sh)/kubectl"
  k() { "$kubectl_bin" --kubeconfig "$repo/.ferry/kubeconfig" --context source "$@"; }
  k create namespace ferry-source --dry-run=client -o yaml | k apply -f - >/dev/null
  # Passwords and the seed (which holds one) go to the API server as a Secret, through stdin.
  secret sourceRootPassword >/dev/null
  (umask 077 && seed_sql % >"$dir/source-db-init.sql")
  k -n ferry-source create secret generic source-db --from-file=root-password=/dev/stdin \
    --from-file=init.sql="$dir/source-db-init.sql" --dry-run=client -o yaml <"$secrets/sourceRootPassword" |
    k apply -f - >/dev/null
  k -n ferry-source create secret generic source-db-tls --from-file=ca.crt="$tls/ca.crt" \
    --from-file=server.crt="$tls/server.crt" --from-file=server.key="$tls/server.key" \
    --dry-run=client -o yaml | k apply -f - >/dev/null
  rm -f "$dir/source-db-init.sql"
  volume="$repo/.ferry/cluster-source/volumes/source-db"
  mkdir -p "$volume"
  chown 999:999 "$volume"
  chmod 0700 "$volume"
  k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: { name: ferry-source-db-data }
spec:
  capacity: { storage: 10Gi }
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef: { namespace: ferry-source, name: source-db-data }
  local: { path: "$volume" }
  nodeAffinity:
    required:
      nodeSelectorTerms: [{ matchExpressions: [{ key: kubernetes.io/hostname, operator: In, values: [ferry-source-node-1] }] }]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: source-db-data, namespace: ferry-source }
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeName: ferry-source-db-data
  resources: { requests: { storage: 10Gi } }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: source-db, namespace: ferry-source }
spec:
  replicas: 1
  # One server on its data directory at a time.
  strategy: { type: Recreate }
  selector: { matchLabels: { app: source-db } }
  template:
    metadata: { labels: { app: source-db } }
    spec:
      # No fsGroup: the kubelet would make the files group-writable; the volume is 999's already.
      securityContext: { runAsUser: 999, runAsGroup: 999 }
      initContainers:
        # A data directory of another seed (or none) is emptied: the server then seeds it anew.
        - name: seed
          image: $IMAGE_MARIADB
          imagePullPolicy: Never
          command: [/bin/sh, -c, 'if [ "\$(cat /claim/seed 2>/dev/null)" != "\$SEED" ]; then rm -rf /claim/data; mkdir /claim/data; printf %s "\$SEED" >/claim/seed; fi']
          env: [{ name: SEED, value: "$(sha256sum <scripts/dev/sample-data.sh | cut -c 1-64)" }]
          volumeMounts: [{ name: data, mountPath: /claim }]
      containers:
        - name: mariadb
          image: $IMAGE_MARIADB
          imagePullPolicy: Never
          args: [--log-bin=source-bin, --server-id=1, --binlog-format=ROW, --character-set-server=utf8mb4,
            --ssl-ca=/var/run/source-db-tls/ca.crt, --ssl-cert=/var/run/source-db-tls/server.crt,
            --ssl-key=/var/run/source-db-tls/server.key, --require-secure-transport=ON]
          # A new certificate restarts the server, which reads it only when it starts; a new seed
          # starts it over (its data is thrown away), which is when the seed runs.
          env: [{ name: MYSQL_ROOT_PASSWORD_FILE, value: /var/run/source-db/root-password },
            { name: FERRY_DEV_TLS_SHA256, value: "$(sha256sum <"$tls/server.crt" | cut -c 1-64)" },
            { name: FERRY_DEV_SEED_SHA256, value: "$(sha256sum <scripts/dev/sample-data.sh | cut -c 1-64)" }]
          ports: [{ containerPort: 3306 }]
          readinessProbe:
            exec: { command: [mariadb-admin, ping, -h, 127.0.0.1, --silent] }
            periodSeconds: 2
          volumeMounts:
            - { name: secrets, mountPath: /var/run/source-db, readOnly: true }
            - { name: secrets, mountPath: /docker-entrypoint-initdb.d, readOnly: true }
            - { name: tls, mountPath: /var/run/source-db-tls, readOnly: true }
            - { name: data, mountPath: /var/lib/mysql, subPath: data }
            - { name: run, mountPath: /run/mysqld }
      volumes:
        - name: secrets
          secret: { secretName: source-db, items: [{ key: root-password, path: root-password }, { key: init.sql, path: init.sql }] }
        - { name: tls, secret: { secretName: source-db-tls, defaultMode: 0444 } }
        - { name: data, persistentVolumeClaim: { claimName: source-db-data } }
        - { name: run, emptyDir: {} }
---
apiVersion: v1
kind: Service
metadata: { name: source-db, namespace: ferry-source }
spec: { type: NodePort, selector: { app: source-db }, ports: [{ port: 3306, nodePort: 30306 }] }
YAML
  k -n ferry-source rollout status deployment/source-db --timeout=180s >/dev/null
  cluster_source_route
}

# The destination cluster's pods reach that server as they would an old cluster's database its
# cluster exposes: at the node's address and the node port, and nowhere else in the source cluster
# (this machine forwards nothing else between the two, cluster.sh). Live mode's destination
# replicates from there.
cluster_source_route() {
  for rule in "-i ferry0 -o ferry-src0 -d 10.90.0.2 -p tcp --dport 30306 -j ACCEPT" \
    "-i ferry-src0 -o ferry0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"; do
    # shellcheck disable=SC2086 # each rule is words of this script's own
    iptables -C FORWARD $rule 2>/dev/null || iptables -I FORWARD 1 $rule
  done
}

down() {
  stop minio
  stop mariadb
  say "down: stopped (data kept in .ferry/devenv)"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *)
    echo "usage: scripts/dev/devenv.sh up | down" >&2
    exit 2
    ;;
esac
