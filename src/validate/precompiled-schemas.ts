import type { ValidateFunction } from 'ajv';
import type { SchemaName } from './schema.js';

/**
 * The shipped schemas' validators compiled ahead of time. Empty here: src/ (tests, a checkout)
 * compiles them on first use. lib/ replaces this module with ajv standalone code generated at
 * build time (scripts/build-lib.ts), so the CLI users run does not compile the deployment and
 * config schemas at every start (the largest single CPU cost of a small plan after loading code).
 */
export const precompiledValidators: Partial<Record<SchemaName, ValidateFunction>> = {};

/** The draft-07 meta-schema's validator for user schemas (see USER_SCHEMA_OPTIONS); lib/ has it precompiled. */
export const precompiledUserMeta: ValidateFunction | undefined = undefined;
