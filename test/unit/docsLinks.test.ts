import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

/**
 * The README is a door to docs/: every relative link of the README, docs/ and bench/README.md
 * names a file of the repository and, with a #fragment, a heading of that file; every page of
 * docs/ starts with its title and who it is for; the README stays short.
 */
const root = path.join(__dirname, "..", "..");
const pages = [
  "README.md",
  "bench/README.md",
  ...fs.readdirSync(path.join(root, "docs")).map((f) => `docs/${f}`),
].filter((p) => p.endsWith(".md"));

/** GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to dashes. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function headings(file: string): string[] {
  const text = fs.readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  return [...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1]));
}

describe("the documentation", () => {
  it.each(pages)("%s: every relative link reaches a file and a heading", (page) => {
    const text = fs.readFileSync(path.join(root, page), "utf8").replace(/```[\s\S]*?```/g, "");
    const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
    for (const link of links.filter((l) => !/^[a-z]+:/.test(l))) {
      const [target, fragment] = link.split("#");
      const file = target ? path.join(root, path.dirname(page), target) : path.join(root, page);
      expect(fs.existsSync(file), `${page}: ${link}`).toBe(true);
      if (fragment) expect(headings(file), `${page}: ${link}`).toContain(fragment);
    }
  });

  it("README.md is a door: at most 200 lines, linking every page of docs/", () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
    expect(readme.split("\n").length).toBeLessThanOrEqual(200);
    for (const page of pages.filter((p) => p.startsWith("docs/")))
      expect(readme, page).toContain(`](${page})`);
  });

  it.each(pages.filter((p) => p.startsWith("docs/")))(
    "%s starts with its title and says who it is for",
    (page) => {
      const [title, blank, audience] = fs.readFileSync(path.join(root, page), "utf8").split("\n");
      expect(title).toMatch(/^# \S/);
      expect(blank).toBe("");
      expect(audience).toMatch(/^For /);
    },
  );
});
