import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

const repoRoot = path.join(__dirname, "..", "..");
const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), "utf8");

/**
 * The tools image for real clusters (images/tools.Containerfile) cannot be built here (no registry,
 * no container engine), so what it must share with the build here is checked instead: the same Go
 * as the data plane's module, the same program, the client tools the steps start, a non-root user.
 */
describe("the tools image's Containerfile", () => {
  const containerfile = read("images/tools.Containerfile");

  it("builds ferry-dataplane with the Go release dataplane/go.mod asks for", () => {
    const [, major, minor] = /^go (\d+)\.(\d+)/m.exec(read("dataplane/go.mod"))!;
    expect(containerfile).toContain(`FROM docker.io/library/golang:${major}.${minor}-`);
    expect(containerfile).toMatch(/CGO_ENABLED=0 go build .* \.\/cmd\/ferry-dataplane/);
    expect(containerfile).toContain("COPY --from=build /out/ferry-dataplane /usr/local/bin/");
  });

  it("has the client tools the steps start, and runs as a numeric non-root user", () => {
    // The dump starts mariadb-dump (or mysqldump), the import mariadb (or mysql): see run.go.
    const runGo = read("dataplane/cmd/ferry-dataplane/run.go");
    expect(runGo).toContain('firstOnPath("mariadb-dump", "mysqldump")');
    expect(runGo).toContain('firstOnPath("mariadb", "mysql")');
    // The restore (restore.go) starts mbstream, mariadb-backup and the server.
    const restoreGo = read("dataplane/cmd/ferry-dataplane/restore.go");
    expect(restoreGo).toContain('StreamTool: "mbstream"');
    expect(restoreGo).toContain('firstOnPath("mariadb-backup", "mariabackup")');
    expect(restoreGo).toContain('firstOnPath("mariadbd", "mysqld")');
    expect(containerfile).toMatch(
      /apt-get install -y --no-install-recommends mariadb-client mariadb-backup mariadb-server ca-certificates/,
    );
    // The local cluster's tools image has them too (scripts/build/images.sh).
    expect(read("scripts/build/versions.env")).toMatch(
      /^IMAGE_DEBIAN_PACKAGES=mariadb-server,mariadb-client,mariadb-backup,/m,
    );
    expect(containerfile).toMatch(/^USER [1-9][0-9]*:[1-9][0-9]*$/m);
  });
});
