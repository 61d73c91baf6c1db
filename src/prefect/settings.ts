import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { parse as parseToml } from 'smol-toml';
import { UserInputError } from '../errors.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The settings prefect-gitops takes from Prefect's: the connection, and the work pool `prefect
 * deploy` gives deployments that name none.
 */
export const PREFECT_SETTING_NAMES = ['PREFECT_API_URL', 'PREFECT_API_KEY', 'PREFECT_API_AUTH_STRING', 'PREFECT_DEFAULT_WORK_POOL_NAME'] as const;
export type PrefectSettingName = (typeof PREFECT_SETTING_NAMES)[number];

/** Each setting with where it came from (for messages; never the value of a secret). */
export type PrefectSettings = Partial<Record<PrefectSettingName, { readonly value: string; readonly source: string }>>;

/** prefect.toml / pyproject.toml spell them as nested keys: [api] url, key, auth_string; [deployments] default_work_pool_name. */
const TOML_KEY: Record<PrefectSettingName, readonly [string, string]> = {
  PREFECT_API_URL: ['api', 'url'],
  PREFECT_API_KEY: ['api', 'key'],
  PREFECT_API_AUTH_STRING: ['api', 'auth_string'],
  PREFECT_DEFAULT_WORK_POOL_NAME: ['deployments', 'default_work_pool_name'],
};

/**
 * Resolves the API URL, key and auth string (and the default work pool) as the `prefect` CLI does (Prefect 3's
 * `PrefectBaseSettings.settings_customise_sources`), highest priority first: environment variables;
 * `.env` in the working directory; `prefect.toml` (`[api]`); `pyproject.toml` (`[tool.prefect.api]`);
 * the active profile of profiles.toml (`PREFECT_PROFILE`, else the file's `active`). The profiles file
 * is found as Prefect finds it: PREFECT_PROFILES_PATH (environment, `.env`, `prefect.toml`,
 * `pyproject.toml`), else `$PREFECT_HOME/profiles.toml`, else `~/.prefect/profiles.toml`.
 * Empty values count as unset (Prefect's env_ignore_empty).
 *
 * @throws UserInputError when one of these files is not valid TOML, or PREFECT_PROFILE names a
 *   profile the file does not have.
 */
export function resolvePrefectSettings(env: Env, cwd: string, home: string = homedir()): PrefectSettings {
  const dotenv = readDotenv(join(cwd, '.env'));
  const prefectToml = readToml(join(cwd, 'prefect.toml'));
  const pyproject = readToml(join(cwd, 'pyproject.toml'));
  const pyprojectPrefect = table(table(pyproject, 'tool'), 'prefect');
  const profile = activeProfile(env, cwd, home, dotenv, prefectToml, pyprojectPrefect);

  const sources: { name: string; get: (key: PrefectSettingName) => unknown }[] = [
    { name: 'the environment', get: (key) => env[key] },
    { name: '.env', get: (key) => dotenv[key] },
    { name: 'prefect.toml', get: (key) => table(prefectToml, TOML_KEY[key][0])[TOML_KEY[key][1]] },
    { name: 'pyproject.toml', get: (key) => table(pyprojectPrefect, TOML_KEY[key][0])[TOML_KEY[key][1]] },
    ...(profile ? [{ name: `profile "${profile.name}" in ${profile.file}`, get: (key: PrefectSettingName) => profile.values[key] }] : []),
  ];
  const settings: PrefectSettings = {};
  for (const key of PREFECT_SETTING_NAMES) {
    for (const source of sources) {
      const value = source.get(key);
      if (typeof value === 'string' && value !== '') {
        settings[key] = { value, source: source.name };
        break;
      }
    }
  }
  return settings;
}

function activeProfile(
  env: Env,
  cwd: string,
  home: string,
  dotenv: Record<string, string | undefined>,
  prefectToml: Record<string, unknown>,
  pyprojectPrefect: Record<string, unknown>,
): { name: string; file: string; values: Record<string, unknown> } | undefined {
  const explicit = [env.PREFECT_PROFILES_PATH, dotenv.PREFECT_PROFILES_PATH, prefectToml.profiles_path, pyprojectPrefect.profiles_path].find((p): p is string => typeof p === 'string' && p !== '');
  const file = explicit ? (isAbsolute(explicit) ? explicit : resolve(cwd, explicit)) : join(env.PREFECT_HOME || join(home, '.prefect'), 'profiles.toml');
  const profiles = readToml(file);
  const name = env.PREFECT_PROFILE || (typeof profiles.active === 'string' ? profiles.active : undefined);
  if (!name) return undefined;
  const all = table(profiles, 'profiles');
  if (!(name in all)) {
    // Prefect falls back to its built-in default profile (ephemeral: no API URL).
    if (env.PREFECT_PROFILE) throw new UserInputError(`PREFECT_PROFILE is "${env.PREFECT_PROFILE}", but ${file} has no such profile`, `one of: ${Object.keys(all).join(', ') || '(none)'}`);
    return undefined;
  }
  return { name, file, values: table(all, name) };
}

function table(value: Record<string, unknown>, key: string): Record<string, unknown> {
  const child = value[key];
  return child && typeof child === 'object' && !Array.isArray(child) ? (child as Record<string, unknown>) : {};
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function readToml(path: string): Record<string, unknown> {
  const text = readText(path);
  if (text === undefined) return {};
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (error) {
    throw new UserInputError(`${path} is not valid TOML: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`);
  }
}

function readDotenv(path: string): Record<string, string | undefined> {
  const text = readText(path);
  return text === undefined ? {} : parseEnv(text);
}
