// Every key path the config schema accepts, read from its JSON Schema (which carries
// each check type's own keys). Lists are transparent: "services.real_servers.check.path".
import { DURATION_PATTERN } from '../../../src/config/duration.js';
import { configJsonSchemaText, type CheckPluginRegistry } from '../../../src/config/index.js';

export interface SchemaKey {
  /** Key names from the root, list levels left out. */
  path: string[];
  /** A duration string (DURATION_PATTERN). */
  duration: boolean;
  /** A mapping of names the user chooses (headers), or any JSON (a template's body): nothing under it is a config key. */
  freeForm: boolean;
  /** The default, as written in the file ("1s"), when the key has one. */
  default?: unknown;
}

type JsonSchema = {
  $ref?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  pattern?: string;
  default?: unknown;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
};

/** A schema that constrains nothing: any JSON value goes (zod's unknown). */
const anyValue = (v: JsonSchema): boolean =>
  v.type === undefined &&
  v.properties === undefined &&
  v.items === undefined &&
  v.anyOf === undefined &&
  v.oneOf === undefined &&
  v.allOf === undefined &&
  v.enum === undefined &&
  v.const === undefined;

export function schemaKeys(plugins: CheckPluginRegistry): Map<string, SchemaKey> {
  const root = JSON.parse(configJsonSchemaText(plugins)) as JsonSchema & { $defs?: Record<string, JsonSchema> };
  const resolve = (node: JsonSchema): JsonSchema => {
    if (!node.$ref) return node;
    const def = root.$defs?.[node.$ref.replace('#/$defs/', '')];
    if (!def) throw new Error(`unresolved ${node.$ref}`);
    return resolve(def);
  };
  const keys = new Map<string, SchemaKey>();
  const add = (path: string[], node: JsonSchema) => {
    const id = path.join('.');
    const known = keys.get(id) ?? { path, duration: false, freeForm: false };
    const variants = [node, ...(node.anyOf ?? []), ...(node.oneOf ?? [])].map(resolve);
    if (variants.some((v) => v.pattern === DURATION_PATTERN.source)) known.duration = true;
    if (variants.some((v) => (typeof v.additionalProperties === 'object' && !v.properties) || anyValue(v))) known.freeForm = true;
    const withDefault = variants.find((v) => v.default !== undefined);
    if (withDefault) known.default = withDefault.default;
    keys.set(id, known);
  };
  const walk = (raw: JsonSchema, path: string[], depth: number): void => {
    if (depth > 20) throw new Error(`schema too deep at ${path.join('.')}`);
    const node = resolve(raw);
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      add([...path, key], resolve(child));
      walk(child, [...path, key], depth + 1);
    }
    if (node.items) walk(node.items, path, depth + 1);
    const branches = [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])];
    for (const branch of branches) walk(branch, path, depth + 1);
  };
  walk(root, [], 0);
  return keys;
}
