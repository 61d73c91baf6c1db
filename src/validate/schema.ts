import { existsSync, readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { PathSegment } from '../manifests/source.js';
import { isSensitiveKey, REDACTED, redactUrlPasswords } from '../render/redact.js';
import { precompiledUserMeta, precompiledValidators } from './precompiled-schemas.js';
import { didYouMean } from './suggest.js';

// schemas/ beside the module in the single-file build (scripts/build-single.ts); else the package's
// schemas/, two levels up from src/validate/, lib/validate/ and dist/action/.
const besideDir = new URL('./schemas/', import.meta.url);
const schemaDir = existsSync(besideDir) ? besideDir : new URL('../../schemas/', import.meta.url);
const loadSchema = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(name, schemaDir), 'utf8')) as Record<string, unknown>;

export interface SchemaProblem {
  readonly path: PathSegment[];
  readonly message: string;
  /** Point at the key rather than the value (unknown keys). */
  readonly atKey: boolean;
}

/** The options of the shipped schemas' validators (scripts/build-lib.ts precompiles them with these). */
export const SHIPPED_SCHEMA_OPTIONS = { allErrors: true, verbose: true, allowUnionTypes: true, strict: false } as const;
// ajv-formats is CommonJS; its default export arrives wrapped under Node's ESM interop.
type AddFormats = (instance: Ajv) => Ajv;
export const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;
let shippedAjv: Ajv | undefined;
/** Made on first use: where the shipped schemas are precompiled, a run may never need it. */
const ajv = (): Ajv => (shippedAjv ??= addFormats(new Ajv(SHIPPED_SCHEMA_OPTIONS)));
let deploymentSchema: Record<string, unknown> | undefined;
const deployment = (): Record<string, unknown> => (deploymentSchema ??= loadSchema('deployment.schema.json'));
/**
 * The shipped schemas, each compiled on first use: a command compiles only what it checks (a plan
 * never needs savedPlan). lib/ (scripts/build-lib.ts) has them precompiled to standalone code.
 */
export const shippedSchemas = {
  deployment: () => deployment(),
  partialDeployment: () => ({ ...deployment(), $id: `${String(deployment().$id)}#partial`, required: [] }),
  config: () => loadSchema('config.schema.json'),
  savedPlan: () => loadSchema('plan.schema.json'),
} satisfies Record<string, () => Record<string, unknown>>;

export type SchemaName = keyof typeof shippedSchemas;

const validators = new Map<SchemaName, ValidateFunction>();

/** Validates `value` against one of the shipped schemas; returns readable problems, never throws. */
export function checkSchema(name: SchemaName, value: unknown): SchemaProblem[] {
  let validate = validators.get(name);
  if (!validate) validators.set(name, (validate = precompiledValidators[name] ?? ajv().compile(shippedSchemas[name]())));
  if (validate(value)) return [];
  return toProblems(validate.errors ?? []);
}

const fileValidators = new Map<string, ValidateFunction>();

/**
 * Validates `value` against a shipped schema by file name (the workspace kinds' schemas:
 * `variable.schema.json`); `partial` drops the top-level `required` (an environment override).
 */
export function checkSchemaFile(file: string, value: unknown, options: { partial?: boolean } = {}): SchemaProblem[] {
  const id = `${file}${options.partial ? '#partial' : ''}`;
  let validate = fileValidators.get(id);
  if (!validate) {
    const schema = loadSchema(file);
    fileValidators.set(id, (validate = ajv().compile(options.partial ? { ...schema, $id: `${String(schema.$id)}#partial`, required: [] } : schema)));
  }
  if (validate(value)) return [];
  return toProblems(validate.errors ?? []);
}

/** The options of the validators of user-supplied schemas (scripts/build-lib.ts precompiles their meta-schema with these). */
export const USER_SCHEMA_OPTIONS = { allErrors: true, verbose: true, strict: false, allowUnionTypes: true, validateFormats: false, addUsedSchema: false } as const;
/** JSON Schema draft-07, the meta-schema ajv checks a user's schema against. */
export const USER_META_SCHEMA_ID = 'http://json-schema.org/draft-07/schema';
/**
 * Validates data against a user-supplied JSON Schema (parameters vs parameter_openapi_schema).
 * ajv's own check of the schema against the meta-schema (`validateSchema`) is done here instead,
 * by {@link userMeta} and with ajv's own message, so that lib/ can ship that check precompiled
 * (compiling draft-07 at run time was ~30 ms of every plan).
 */
const userAjv = new Ajv({ ...USER_SCHEMA_OPTIONS, validateSchema: false });
let userMetaValidator: ValidateFunction | undefined;
const userMeta = (): ValidateFunction => (userMetaValidator ??= precompiledUserMeta ?? new Ajv(USER_SCHEMA_OPTIONS).getSchema(USER_META_SCHEMA_ID)!);
type Compiled = ValidateFunction | { invalidSchema: string };
/** Compiled user schemas, per schema object and `required` handling: a deployment's schema is checked for its parameters and each schedule's. */
const compiled = new WeakMap<object, Map<boolean, Compiled>>();
/**
 * Compiled user schemas by content, so that equal schemas in different deployments (the same flow
 * for many deployments) are compiled once. Keyed by the schema's JSON as written, not a key-sorted
 * form: messages list allowed keys in the schema's own order, so two schemas that differ only in
 * key order keep their own validators and their messages stay exactly as they were. Bounded: a
 * long-lived process (the Action, the tests) drops it when it grows past the limit.
 */
const compiledByContent = new Map<string, Compiled>();
const CONTENT_CACHE_LIMIT = 2000;
let userSchemaCompiles = 0;

/** How many user schemas have been compiled in this process (to show that equal schemas compile once). */
export const userSchemaCompileCount = (): number => userSchemaCompiles;

function compileUserSchema(schema: Record<string, unknown>, ignoreRequired: boolean): Compiled {
  const key = `${ignoreRequired ? 'r' : 'R'}${JSON.stringify(schema)}`;
  const known = compiledByContent.get(key);
  if (known) return known;
  let validate: Compiled;
  userSchemaCompiles++;
  try {
    const { $schema: _ignored, $id: _id, ...rest } = schema;
    const meta = userMeta();
    // What ajv's compile throws when `validateSchema` is on, word for word.
    if (!meta(rest)) throw new Error(`schema is invalid: ${userAjv.errorsText(meta.errors)}`);
    validate = userAjv.compile(ignoreRequired ? stripRequired(rest) : rest);
  } catch (error) {
    validate = { invalidSchema: error instanceof Error ? error.message : String(error) };
  }
  if (compiledByContent.size >= CONTENT_CACHE_LIMIT) compiledByContent.clear();
  compiledByContent.set(key, validate);
  return validate;
}

export function checkAgainst(schema: Record<string, unknown>, value: unknown, options: { ignoreRequired: boolean }): SchemaProblem[] | { invalidSchema: string } {
  let bySetting = compiled.get(schema);
  if (!bySetting) compiled.set(schema, (bySetting = new Map()));
  let validate = bySetting.get(options.ignoreRequired);
  if (!validate) bySetting.set(options.ignoreRequired, (validate = compileUserSchema(schema, options.ignoreRequired)));
  if ('invalidSchema' in validate) return validate;
  if (validate(value)) return [];
  return toProblems(validate.errors ?? []);
}

/** Drops the `required` keyword (a list) at every level; a property *named* `required` stays. */
function stripRequired(schema: unknown): Record<string, unknown> {
  if (Array.isArray(schema)) return schema.map(stripRequired) as unknown as Record<string, unknown>;
  if (!schema || typeof schema !== 'object') return schema as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([k, v]) => !(k === 'required' && Array.isArray(v)))
      .map(([k, v]) => [k, stripRequired(v)]),
  );
}

function pointerToPath(pointer: string): PathSegment[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/**
 * A value as a message may quote it: never what sits under a sensitive key (`db_password`), and
 * never a URL's password.
 */
const quote = (value: unknown, path: readonly PathSegment[]): string =>
  path.some((segment) => typeof segment === 'string' && isSensitiveKey(segment)) ? REDACTED : redactUrlPasswords(JSON.stringify(value) ?? String(value));

const describeType = (value: unknown, path: readonly PathSegment[]): string =>
  value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a mapping' : `${typeof value} ${quote(value, path)}`;

function toProblems(errors: readonly ErrorObject[]): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    const path = pointerToPath(error.instancePath);
    let message: string;
    let atKey = false;
    let at = path;
    switch (error.keyword) {
      case 'additionalProperties': {
        const key = String((error.params as { additionalProperty: string }).additionalProperty);
        const allowed = Object.keys(((error.parentSchema ?? {}) as { properties?: object }).properties ?? {});
        const suggestion = didYouMean(key, allowed);
        at = [...path, key];
        atKey = true;
        message = `unknown key "${key}"${suggestion ? `; did you mean "${suggestion}"?` : allowed.length ? `; allowed keys: ${allowed.join(', ')}` : ''}`;
        break;
      }
      case 'required': {
        const key = String((error.params as { missingProperty: string }).missingProperty);
        message = `missing required key "${key}"`;
        break;
      }
      case 'type': {
        const expected = String((error.params as { type: string | string[] }).type).split(',').join(' or ');
        message = `must be ${expected.replace('object', 'a mapping').replace('array', 'a list')}, got ${describeType(error.data, path)}`;
        break;
      }
      case 'enum':
        message = `must be one of ${((error.params as { allowedValues: unknown[] }).allowedValues).map((v) => JSON.stringify(v)).join(', ')}, got ${quote(error.data, path)}`;
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum': {
        const { comparison, limit } = error.params as { comparison: string; limit: number };
        message = `must be ${comparison} ${limit}, got ${quote(error.data, path)}`;
        break;
      }
      case 'minLength':
        message = 'must not be empty';
        break;
      case 'maxLength':
        message = `is too long (at most ${(error.params as { limit: number }).limit} characters)`;
        break;
      case 'uniqueItems': {
        const { i, j } = error.params as { i: number; j: number };
        message = `must not repeat items (items ${j} and ${i} are the same)`;
        break;
      }
      case 'minProperties':
      case 'maxProperties':
        message = 'a step must have exactly one key, the step function, e.g. `prefect.deployments.steps.git_clone: {repository: ...}`';
        break;
      case 'pattern': {
        // Inside propertyNames, ajv reports the offending key by name: point at that key.
        const propertyName = (error as { propertyName?: string }).propertyName;
        if (propertyName !== undefined) {
          at = [...path, propertyName];
          atKey = true;
          message = `name ${JSON.stringify(propertyName)} is not allowed here: it must match ${(error.params as { pattern: string }).pattern}`;
          break;
        }
        message = `${quote(error.data, path)} does not match the allowed form ${(error.params as { pattern: string }).pattern}`;
        break;
      }
      case 'propertyNames':
        continue; // reported by the nested error on the name itself, below
      default:
        message = error.message ?? 'is invalid';
    }
    const id = `${at.join('/')}|${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push({ path: at, message, atKey });
  }
  return problems;
}
