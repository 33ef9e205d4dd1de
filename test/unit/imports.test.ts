import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

/**
 * The program's files import one another without a circle (a circle makes the load order decide
 * what a module sees, and the house hard to enter), and the configuration imports nothing from
 * the specs: what both need lives below both (components/values.ts).
 */
const root = path.join(__dirname, "..", "..");

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

/** The files of the program a file imports (type-only imports too: they tie the files as well). */
function imports(file: string): string[] {
  const text = fs.readFileSync(file, "utf8");
  return [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)";/gms)].map((m) => {
    const target = path.resolve(path.dirname(file), m[1]);
    for (const candidate of [`${target}.ts`, path.join(target, "index.ts")])
      if (fs.existsSync(candidate)) return candidate;
    throw new Error(`${file}: import ${m[1]} names no file`);
  });
}

const files = [path.join(root, "index.ts"), ...sources(path.join(root, "components"))];
const graph = new Map(files.map((f) => [f, imports(f)]));
const name = (f: string) => path.relative(root, f);

describe("the program's imports", () => {
  it("form no circle", () => {
    const circles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const walk = (file: string, trail: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") {
        circles.push([...trail.slice(trail.indexOf(file)), file].map(name).join(" → "));
        return;
      }
      state.set(file, "open");
      for (const next of graph.get(file) ?? []) walk(next, [...trail, file]);
      state.set(file, "done");
    };
    for (const file of files) walk(file, []);
    expect(circles).toEqual([]);
  });

  it("keep the configuration apart from the specs", () => {
    const config = files.filter((f) => name(f).startsWith(path.join("components", "config")));
    expect(config.length).toBeGreaterThan(5);
    for (const file of config)
      for (const target of graph.get(file)!)
        expect(name(target), name(file)).not.toMatch(/^components\/specs\//);
  });
});
