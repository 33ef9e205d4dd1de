import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { parse, parseDocument } from "yaml";
import { pulumiYamlConfig, readmeReference } from "../../components/specs/configReference";

/**
 * The configuration reference in Pulumi.yaml and docs/configuration.md is generated from the schema. With
 * FERRY_WRITE_DOCS=1 (npm run docs) this file writes both first; otherwise it fails on any drift.
 */
const root = path.join(__dirname, "..", "..");
const projectFile = path.join(root, "Pulumi.yaml");
const readmeFile = path.join(root, "docs", "configuration.md");
const begin = "<!-- config-reference:begin -->";
const end = "<!-- config-reference:end -->";

function readmeSection(text: string): string {
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from)
    throw new Error(`docs/configuration.md lacks the markers ${begin} ... ${end}`);
  return text.slice(from + begin.length, to);
}

/** Markdown as prettier may realign it: table cells trimmed, separator rows alike. */
function normalized(markdown: string): string {
  return markdown
    .trim()
    .split("\n")
    .map((line) =>
      line.startsWith("|")
        ? line
            .split(/(?<!\\)\|/)
            .map((cell) => (/^\s*:?-+:?\s*$/.test(cell) ? "---" : cell.trim()))
            .join("|")
        : line.trim(),
    )
    .join("\n");
}

if (process.env.FERRY_WRITE_DOCS === "1") {
  const document = parseDocument(fs.readFileSync(projectFile, "utf8"));
  document.set("config", pulumiYamlConfig());
  fs.writeFileSync(projectFile, document.toString({ lineWidth: 100 }));
  const readme = fs.readFileSync(readmeFile, "utf8");
  readmeSection(readme); // fails early when the markers are missing
  fs.writeFileSync(
    readmeFile,
    `${readme.slice(0, readme.indexOf(begin) + begin.length)}\n${readmeReference()}\n${readme.slice(readme.indexOf(end))}`,
  );
}

describe("the configuration reference", () => {
  it("Pulumi.yaml declares what the schema says (npm run docs regenerates it)", () => {
    const declared = (parse(fs.readFileSync(projectFile, "utf8")) as { config: unknown }).config;
    expect(declared).toEqual(pulumiYamlConfig());
  });

  it("docs/configuration.md's tables say what the schema says (npm run docs regenerates them)", () => {
    const section = readmeSection(fs.readFileSync(readmeFile, "utf8"));
    expect(normalized(section)).toBe(normalized(readmeReference()));
  });

  it("documents every field with a description", () => {
    const reference = readmeReference();
    expect(reference).not.toMatch(/\| {2}\|$/m);
    expect(reference).not.toMatch(/\|\s*\|\s*$/m);
  });
});
