import type { MariaDb } from "../test/support/servers";

/**
 * The benchmark's source dataset, generated inside the server from a seed (the SEQUENCE engine
 * numbers the rows, SHA2 and CRC32 of seed and row number fill them), so the same seed and size
 * always give the same rows and generating 1 GB takes about a minute instead of an import.
 *
 * Shapes: narrow rows with secondary indexes (orders, order_lines, events), wide text rows with a
 * unique index (customers), BLOBs (assets), small tables, and a view, a trigger and a function so
 * the dump carries every kind of object ferry moves.
 */
export const benchDatabases = ["bench_shop", "bench_media"];

/** Each table's share of the SQL text and the SQL bytes one of its rows takes in a dump. */
const tables = [
  { name: "bench_shop.orders", share: 0.2, sqlBytesPerRow: 48 },
  { name: "bench_shop.order_lines", share: 0.25, sqlBytesPerRow: 40 },
  { name: "bench_shop.customers", share: 0.2, sqlBytesPerRow: 545 },
  { name: "bench_media.assets", share: 0.25, sqlBytesPerRow: 6235 },
  { name: "bench_media.events", share: 0.1, sqlBytesPerRow: 58 },
];

/** A dataset's size as --sizes gives it: bytes, or a number with K, M or G (1024s). */
export function parseSize(text: string): number {
  const match = /^([0-9.]+)([KMG]?)$/i.exec(text.trim());
  if (!match) throw new Error(`bench: size '${text}' is not a number with an optional K, M or G`);
  const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2].toUpperCase()]!;
  return Math.round(Number(match[1]) * unit);
}

/** A whole-number option of at least `least`, named by its flag when it is not one. */
export function wholeNumber(flag: string, text: string, least = 1): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < least)
    throw new Error(`bench: --${flag} must be a whole number of at least ${least}, not '${text}'`);
  return value;
}

export interface GeneratedDataset {
  seed: number;
  targetBytes: number;
  rows: Record<string, number>;
}

function rowsFor(table: string, targetBytes: number): number {
  const spec = tables.find((t) => t.name === table)!;
  return Math.max(1, Math.round((targetBytes * spec.share) / spec.sqlBytesPerRow));
}

/** Fills `server` with about `targetBytes` of dump SQL, reproducibly from `seed`. */
export function generateDataset(
  server: MariaDb,
  targetBytes: number,
  seed: number,
): GeneratedDataset {
  const rows: Record<string, number> = {};
  for (const t of tables) rows[t.name] = rowsFor(t.name, targetBytes);
  const s = Math.trunc(seed);
  // Rows go in batches so no single statement holds more than a few hundred MB of undo.
  const insertInBatches = (table: string, select: (from: number, to: number) => string) => {
    const batch = 1_000_000;
    for (let from = 1; from <= rows[table]; from += batch) {
      const to = Math.min(rows[table], from + batch - 1);
      server.must(`INSERT INTO ${table} ${select(from, to)}`, "bench_media");
    }
  };

  server.must(`
    DROP DATABASE IF EXISTS bench_shop; DROP DATABASE IF EXISTS bench_media;
    CREATE DATABASE bench_shop CHARACTER SET utf8mb4; CREATE DATABASE bench_media CHARACTER SET utf8mb4;
    CREATE TABLE bench_shop.orders (id INT PRIMARY KEY, customer_id INT NOT NULL, status TINYINT NOT NULL,
      amount DECIMAL(10,2) NOT NULL, created DATETIME NOT NULL, KEY (customer_id), KEY (created));
    CREATE TABLE bench_shop.order_lines (id BIGINT PRIMARY KEY, order_id INT NOT NULL, sku VARCHAR(16) NOT NULL,
      qty SMALLINT NOT NULL, price DECIMAL(10,2) NOT NULL, KEY (order_id), KEY (sku));
    CREATE TABLE bench_shop.customers (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, email VARCHAR(128) NOT NULL,
      address VARCHAR(255) NOT NULL, notes TEXT NOT NULL, UNIQUE KEY (email));
    CREATE TABLE bench_shop.countries (code CHAR(2) PRIMARY KEY, name VARCHAR(64) NOT NULL);
    CREATE TABLE bench_media.assets (id INT PRIMARY KEY, kind VARCHAR(16) NOT NULL, payload MEDIUMBLOB NOT NULL,
      digest CHAR(64) NOT NULL, KEY (digest));
    CREATE TABLE bench_media.events (id BIGINT PRIMARY KEY, at DATETIME(6) NOT NULL,
      kind ENUM('view','click','buy','error') NOT NULL, value DOUBLE NOT NULL, KEY (at));
    CREATE TABLE bench_media.block_pool (id SMALLINT PRIMARY KEY, block VARBINARY(1024) NOT NULL);
    CREATE VIEW bench_shop.big_orders AS SELECT id, customer_id, amount FROM bench_shop.orders WHERE amount > 900;
    CREATE FUNCTION bench_shop.gross(net DECIMAL(10,2)) RETURNS DECIMAL(10,2) DETERMINISTIC RETURN net * 1.2;
  `);
  server.must(`CREATE TRIGGER bench_shop.lines_qty BEFORE INSERT ON bench_shop.order_lines
    FOR EACH ROW SET NEW.qty = GREATEST(NEW.qty, 1)`);
  // 4096 one-KiB blocks of hash output: the BLOBs are made of three of them each, so they are as
  // incompressible as media files while costing three lookups a row to generate.
  server.must(
    `INSERT INTO bench_media.block_pool
    SELECT seq, UNHEX(CONCAT(${Array.from({ length: 32 }, (_, i) => `SHA2(CONCAT(${s}, ':', seq, ':${i}'), 256)`).join(", ")}))
    FROM seq_0_to_4095`,
    "bench_media",
  );
  server.must(
    `INSERT INTO bench_shop.countries SELECT CONCAT(CHAR(65 + seq DIV 26), CHAR(65 + seq MOD 26)),
    CONCAT('Country ', seq) FROM seq_0_to_675`,
    "bench_media",
  );
  const h = (column: string, salt: string) => `CRC32(CONCAT(${s}, '${salt}', ${column}))`;
  insertInBatches(
    "bench_shop.orders",
    (from, to) =>
      `SELECT seq, ${h("seq", "c")} % 1000000, ${h("seq", "s")} % 5, (${h("seq", "a")} % 100000) / 100,
      '2015-01-01' + INTERVAL (${h("seq", "t")} % 315360000) SECOND FROM seq_${from}_to_${to}`,
  );
  insertInBatches(
    "bench_shop.order_lines",
    (from, to) =>
      `SELECT seq, ${h("seq", "o")} % 10000000, CONCAT('SKU-', ${h("seq", "k")} % 500000),
      1 + ${h("seq", "q")} % 20, (${h("seq", "p")} % 50000) / 100 FROM seq_${from}_to_${to}`,
  );
  insertInBatches(
    "bench_shop.customers",
    (from, to) =>
      `SELECT seq, CONCAT('Customer ', LEFT(SHA2(CONCAT(${s}, 'n', seq), 256), 12)),
      CONCAT('c', seq, '.', LEFT(SHA2(CONCAT(${s}, 'e', seq), 256), 10), '@example.com'),
      CONCAT(${h("seq", "h")} % 9999, ' ', LEFT(SHA2(CONCAT(${s}, 'r', seq), 256), 24), ' Street, ', LEFT(SHA2(CONCAT(${s}, 'y', seq), 256), 16)),
      CONCAT_WS(' ', SHA2(CONCAT(${s}, 'a', seq), 512), SHA2(CONCAT(${s}, 'b', seq), 512), SHA2(CONCAT(${s}, 'c', seq), 512), 'plain text notes about this customer, which compress well')
      FROM seq_${from}_to_${to}`,
  );
  insertInBatches(
    "bench_media.assets",
    (from, to) =>
      `SELECT seq, ELT(1 + ${h("seq", "k")} % 3, 'image', 'audio', 'document'),
      CONCAT(a.block, b.block, c.block), SHA2(CONCAT(${s}, 'd', seq), 256)
      FROM seq_${from}_to_${to}
      JOIN bench_media.block_pool a ON a.id = ${h("seq", "1")} % 4096
      JOIN bench_media.block_pool b ON b.id = ${h("seq", "2")} % 4096
      JOIN bench_media.block_pool c ON c.id = ${h("seq", "3")} % 4096`,
  );
  insertInBatches(
    "bench_media.events",
    (from, to) =>
      `SELECT seq, TIMESTAMPADD(MICROSECOND, ${h("seq", "t")} % 31536000000, '2024-01-01'),
      1 + ${h("seq", "k")} % 4, (${h("seq", "v")} % 1000000) / 7 FROM seq_${from}_to_${to}`,
  );
  return { seed, targetBytes, rows };
}
