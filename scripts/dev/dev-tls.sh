# shellcheck shell=sh
# The dev servers' TLS: a CA of this checkout and one server certificate it signs for every name
# and address a dev server is dialled by, made with openssl into .ferry/dev-tls once (again when a
# name is missing). The dev MariaDB servers (devenv.sh's on this machine and in the source cluster,
# sshhost.sh's) and the dev MinIO serve it and require TLS; the dev stacks trust the CA
# (ferry:source.tls.caCert, ferry:objectStore.caCert), so every session is verified as a real one
# would be. Sourced, never run.

# The names a dev server is dialled by: the local source and the SSH host's (127.0.0.1 on each),
# the source cluster's Service, its node port's address, the e2e's database of "the user's own",
# and MinIO on the local cluster's bridge (where this machine, the pods and the SSH host reach it).
dev_tls_names="DNS:localhost,IP:127.0.0.1,DNS:source-db.ferry-source.svc.cluster.local,DNS:source-db.ferry-source.svc,DNS:source-db.ferry-source,IP:10.90.0.2,DNS:users-db.ferry-e2e-users-db.svc.cluster.local,IP:10.88.0.1"

# dev_tls REPO: prints the directory holding ca.crt, server.crt and server.key, made if missing.
dev_tls() {
  tls_dir="$1/.ferry/dev-tls"
  if [ -s "$tls_dir/server.crt" ] &&
    openssl x509 -in "$tls_dir/server.crt" -noout -ext subjectAltName 2>/dev/null |
    tr -d ' \n' | grep -qF "$(printf '%s' "$dev_tls_names" | sed 's/IP:/IPAddress:/g')"; then
    printf '%s\n' "$tls_dir"
    return 0
  fi
  rm -rf "$tls_dir.partial"
  mkdir -p "$tls_dir.partial"
  (
    cd "$tls_dir.partial" || exit 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -subj "/O=ferry dev/CN=ferry dev sources CA" -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=ferry dev/CN=source-db" \
      -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n' \
      "$dev_tls_names" >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.crt 2>/dev/null
    rm -f server.csr server.ext ca.srl
    # The servers read the key as whatever user they run as; the dev sources hold sample data only.
    chmod 0644 server.key
  )
  rm -rf "$tls_dir"
  mv "$tls_dir.partial" "$tls_dir"
  printf '%s\n' "$tls_dir"
}

# dev_tls_minio_certs DIR: a MinIO --certs-dir serving DIR's certificate (MinIO's own file names).
dev_tls_minio_certs() {
  mkdir -p "$1/minio"
  cp "$1/server.crt" "$1/minio/public.crt"
  cp "$1/server.key" "$1/minio/private.key"
  printf '%s\n' "$1/minio"
}

# dev_tls_server_settings DIR: the server options that serve DIR's certificate and require TLS.
dev_tls_server_settings() {
  printf '%s\n' "--ssl-ca=$1/ca.crt" "--ssl-cert=$1/server.crt" "--ssl-key=$1/server.key" \
    --require-secure-transport=ON
}
