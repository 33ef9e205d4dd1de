# shellcheck shell=sh
# The dev sources' sample databases and their secrets, sourced by scripts/dev/devenv.sh and
# scripts/dev/sshhost.sh: each secret is made once into $secrets (0600) and read from there.

# shellcheck disable=SC2154 # secrets and dir are the sourcing script's

# sql ARGS...: the client, as root, on the sourcing script's MariaDB ($dir/mariadb.sock).
sql() { mariadb --no-defaults --socket="$dir/mariadb.sock" -uroot --default-character-set=utf8mb4 "$@"; }

secret() {
  if [ ! -s "$secrets/$1" ]; then
    (umask 077 && mkdir -p "$secrets" && head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secrets/$1")
  fi
  cat "$secrets/$1"
}

# seed_sql USER_HOST [SECRET]: the sample databases and the dump user, who connects from USER_HOST
# with the password of the dev secret SECRET (sourcePassword); and the account live mode's
# destination replicates as (ferry_replication, dev secret sourceReplicationPassword), from any
# address and over TLS only. The dump user may also set read_only (READ_ONLY ADMIN) and close
# other accounts' sessions (CONNECTION ADMIN), which live mode's cutover does with it. The database ledger is the live demo's application's (ferry-ledger,
# account writer, dev secret ledgerWriterPassword), with no right past read_only.
seed_sql() {
  password=$(secret "${2:-sourcePassword}")
  replication_password=$(secret sourceReplicationPassword)
  writer_password=$(secret ledgerWriterPassword)
  cat <<SQL
CREATE DATABASE shop CHARACTER SET utf8mb4;
CREATE DATABASE crm CHARACTER SET utf8mb4;
USE shop;
CREATE TABLE shop.products (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(100) NOT NULL,
  price DECIMAL(10,2), photo BLOB, created DATETIME(6)) ENGINE=InnoDB;
INSERT INTO shop.products (name, price, photo, created)
  SELECT CONCAT('product ', seq), seq / 7, RANDOM_BYTES(32), NOW(6) FROM seq_1_to_5000;
CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, product_id INT NOT NULL, qty INT NOT NULL,
  FOREIGN KEY (product_id) REFERENCES shop.products (id)) ENGINE=InnoDB;
INSERT INTO shop.orders (product_id, qty) SELECT 1 + seq % 5000, 1 + seq % 4 FROM seq_1_to_20000;
CREATE VIEW shop.big_orders AS SELECT * FROM shop.orders WHERE qty > 2;
CREATE TABLE crm.people (id INT PRIMARY KEY, name VARCHAR(50), city VARCHAR(50)) ENGINE=InnoDB;
INSERT INTO crm.people VALUES (1, 'Zoë', 'Zürich'), (2, 'Ὀδυσσεύς', 'Ithaca'), (3, '李雷', '北京');
CREATE USER 'ferry_dump'@'$1' IDENTIFIED BY '$password';
GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE, LOCK TABLES, RELOAD, PROCESS, REPLICATION CLIENT,
  READ_ONLY ADMIN, CONNECTION ADMIN ON *.* TO 'ferry_dump'@'$1';
CREATE USER 'ferry_replication'@'%' IDENTIFIED BY '$replication_password' REQUIRE SSL;
GRANT REPLICATION SLAVE ON *.* TO 'ferry_replication'@'%';
CREATE DATABASE ledger;
CREATE TABLE ledger.writes (id BIGINT AUTO_INCREMENT PRIMARY KEY, token BIGINT NOT NULL) ENGINE=InnoDB;
CREATE TABLE ledger.counter (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB;
INSERT INTO ledger.counter VALUES (1, 0);
CREATE USER 'writer'@'%' IDENTIFIED BY '$writer_password' REQUIRE SSL;
GRANT SELECT, INSERT, UPDATE ON ledger.* TO 'writer'@'%';
SQL
}
