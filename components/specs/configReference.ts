import { z } from "zod";
import { configSchemas, secretKeys, undeclaredSecretKeys } from "../config";

/**
 * The configuration reference, computed from the schema in `config/` where each key's default
 * and description are written once. `Pulumi.yaml`'s declarations and docs/configuration.md's reference
 * tables are generated from it (`npm run docs`), and a unit test fails when they drift.
 */

/** One documented field: a dotted key under its top-level key. */
export interface ConfigField {
  readonly key: string;
  readonly type: string;
  /** The default, `required`, or `optional`. */
  readonly default: string;
  readonly description: string;
}

type Schema = z.core.$ZodType;

function defOf(schema: Schema): z.core.$ZodTypeDef & Record<string, unknown> {
  return schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
}

function descriptionOf(schema: Schema): string {
  return z.globalRegistry.get(schema)?.description ?? "";
}

/** The schema under its optional and default wrappers, with what they say. */
function unwrap(schema: Schema): {
  inner: Schema;
  optional: boolean;
  defaultValue?: unknown;
  description: string;
} {
  let inner = schema;
  let optional = false;
  let defaultValue: unknown;
  let description = descriptionOf(schema);
  for (;;) {
    const def = defOf(inner);
    if (def.type === "optional") optional = true;
    else if (def.type === "default") defaultValue = def.defaultValue;
    else break;
    inner = def.innerType as Schema;
    description ||= descriptionOf(inner);
  }
  return { inner, optional, defaultValue, description };
}

/** A field as one or more variants declare it; `modes` when only some variants have it. */
interface FieldVariants {
  readonly schemas: Schema[];
  readonly modes?: string[];
}

/** The fields of an object, or of every variant of a discriminated union, by name. */
function fieldsOf(schema: Schema): Map<string, FieldVariants> | undefined {
  const def = defOf(schema);
  const objects =
    def.type === "object" ? [schema] : def.type === "union" ? (def.options as Schema[]) : [];
  if (objects.length === 0 || objects.some((o) => defOf(o).type !== "object")) return undefined;
  const discriminator = def.discriminator as string | undefined;
  const found = new Map<string, { schemas: Schema[]; modes: string[] }>();
  for (const object of objects) {
    const shape = defOf(object).shape as Record<string, Schema>;
    const mode = discriminator
      ? (defOf(unwrap(shape[discriminator]).inner).values as string[])[0]
      : "";
    for (const [name, field] of Object.entries(shape)) {
      // A key of another mode is refused there, not documented there.
      if (defOf(unwrap(field).inner).type === "never") continue;
      const entry = found.get(name) ?? { schemas: [], modes: [] };
      entry.schemas.push(field);
      entry.modes.push(mode);
      found.set(name, entry);
    }
  }
  const fields = new Map<string, FieldVariants>();
  for (const [name, entry] of found) {
    fields.set(name, entry.schemas.length < objects.length ? entry : { schemas: entry.schemas });
  }
  return fields;
}

function typeName(schema: Schema): string {
  const def = defOf(schema);
  switch (def.type) {
    case "enum":
      return Object.values(def.entries as Record<string, string>).join(" \\| ");
    case "array":
      return "list";
    case "record":
    case "object":
      return "map";
    case "unknown":
      return "any";
    default:
      return def.type;
  }
}

function defaultText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value !== null && typeof value === "object" && Object.keys(value).length === 0) return "{}";
  return JSON.stringify(value);
}

function collect(prefix: string, variants: FieldVariants, out: ConfigField[]): void {
  const unwrapped = variants.schemas.map(unwrap);
  const first = unwrapped[0];
  const literals = unwrapped.filter((u) => defOf(u.inner).type === "literal");
  if (literals.length > 0) {
    // The discriminator: each variant's value with what it means.
    out.push({
      key: prefix,
      type: literals.map((u) => (defOf(u.inner).values as string[])[0]).join(" \\| "),
      default: "required",
      description: literals
        .map((u) => `${(defOf(u.inner).values as string[])[0]}: ${u.description}`)
        .join("; "),
    });
    return;
  }
  out.push({
    key: prefix,
    type: typeName(first.inner),
    default:
      first.defaultValue !== undefined
        ? defaultText(first.defaultValue)
        : first.optional
          ? "optional"
          : variants.modes
            ? `required in mode ${variants.modes.join(", ")}`
            : "required",
    description: first.description,
  });
  const fields = fieldsOf(first.inner);
  if (!fields) return;
  for (const [name, fieldVariants] of fields) collect(`${prefix}.${name}`, fieldVariants, out);
}

/** Every structured key and its fields, in schema order. */
export function configFields(): ConfigField[] {
  const out: ConfigField[] = [];
  for (const [key, schema] of Object.entries(configSchemas))
    collect(key, { schemas: [schema] }, out);
  return out;
}

/** When each secret is required. */
const secretRequired: Record<keyof typeof secretKeys, string> = {
  sourcePassword: "yes",
  destinationRootPassword: "in managed mode",
  destinationPassword: "in existing mode",
  objectStoreSecretKey: "yes",
  sshPrivateKey: "in ssh mode",
  storageLicenseKey: "no",
  registryCredentials: "no",
  sourceReplicationPassword: "in live mode",
};

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** `Pulumi.yaml`'s `config:` block: every structured key and every declarable secret. */
export function pulumiYamlConfig(): Record<string, Record<string, unknown>> {
  const fields = configFields();
  const declarations: Record<string, Record<string, unknown>> = {};
  for (const [key, schema] of Object.entries(configSchemas)) {
    const children = fields.filter(
      (f) => f.key.split(".").length === 2 && f.key.startsWith(`${key}.`),
    );
    const listed = children
      .map((f) => {
        const name = f.key.slice(key.length + 1);
        return ["required", "optional"].includes(f.default) ? name : `${name} (${f.default})`;
      })
      .join(", ");
    const declaration: Record<string, unknown> = {
      type: "object",
      description: `${capitalized(descriptionOf(schema))}: ${listed}. See docs/configuration.md.`,
    };
    // A key whose every field has a default may be left out; Pulumi then passes this default.
    const parsed = z.object({ value: schema }).safeParse({ value: {} });
    if (parsed.success) declaration.default = parsed.data.value;
    declarations[key] = declaration;
  }
  for (const [key, description] of Object.entries(secretKeys)) {
    if ((undeclaredSecretKeys as string[]).includes(key)) continue;
    declarations[key] = {
      type: "string",
      secret: true,
      description: `${capitalized(description)}.`,
    };
  }
  return declarations;
}

/** docs/configuration.md's reference: the secrets, then one table a structured key. */
export function readmeReference(): string {
  const lines: string[] = [
    "### Secrets (set with `pulumi config set --secret KEY VALUE`)",
    "",
    "| key | required | meaning |",
    "| --- | --- | --- |",
    ...Object.entries(secretKeys).map(
      ([key, description]) =>
        `| \`${key}\` | ${secretRequired[key as keyof typeof secretKeys]} | ${description} |`,
    ),
  ];
  const fields = configFields();
  for (const key of Object.keys(configSchemas)) {
    const top = fields.find((f) => f.key === key);
    lines.push(
      "",
      `### \`${key}\``,
      "",
      `${capitalized(top?.description ?? "")}.`,
      "",
      "| key | type | default | meaning |",
      "| --- | --- | --- | --- |",
      ...fields
        .filter((f) => f.key.startsWith(`${key}.`))
        .map((f) => `| \`${f.key}\` | ${f.type} | ${f.default} | ${f.description} |`),
    );
  }
  return lines.join("\n");
}
