import type { JsonObject } from '../prefect/types.js';

export const CONFIG_FILE_NAMES = ['prefect-gitops.yaml', 'prefect-gitops.yml'] as const;

export interface PrunePolicy {
  readonly enabled: boolean;
  readonly maxDeletes: number;
  readonly maxDeleteRatio: number;
}

export interface EnvironmentConfig {
  readonly owner?: string;
  readonly defaults: JsonObject;
  /** Branch globs allowed to apply to this environment; undefined means any. */
  readonly branches?: readonly string[];
  readonly ignoreDifferences: readonly string[];
}

/** The project config after schema validation, with defaults filled in. */
export interface ProjectConfig {
  readonly owner: string;
  readonly defaults: JsonObject;
  readonly environments: Readonly<Record<string, EnvironmentConfig>>;
  readonly prune: PrunePolicy;
  /** JSON pointers never reported as differences, for every deployment. */
  readonly ignoreDifferences: readonly string[];
  /** Values for prefect.yaml build/push step outputs, by `<step id>.<key>`. */
  readonly stepOutputs: Readonly<Record<string, string>>;
}

export const DEFAULT_PRUNE: PrunePolicy = { enabled: false, maxDeletes: 10, maxDeleteRatio: 0.5 };

/** Builds the typed config from a value that already passed `config.schema.json`. */
/** `project_root` and `ignore` are applied while loading (src/manifests/load.ts), not kept here. */
export function toProjectConfig(raw: Record<string, unknown>): ProjectConfig {
  const prune = (raw.prune ?? {}) as { enabled?: boolean; max_deletes?: number; max_delete_ratio?: number };
  const environments: Record<string, EnvironmentConfig> = {};
  type RawEnvironment = { owner?: string; defaults?: JsonObject; branches?: string[]; ignore_differences?: string[] } | null;
  for (const [name, env] of Object.entries((raw.environments ?? {}) as Record<string, RawEnvironment>)) {
    environments[name] = {
      ...(env?.owner ? { owner: env.owner } : {}),
      defaults: env?.defaults ?? {},
      ...(env?.branches ? { branches: env.branches } : {}),
      ignoreDifferences: env?.ignore_differences ?? [],
    };
  }
  return {
    owner: raw.owner as string,
    defaults: (raw.defaults as JsonObject | undefined) ?? {},
    environments,
    ignoreDifferences: (raw.ignore_differences as string[] | undefined) ?? [],
    stepOutputs: (raw.step_outputs as Record<string, string> | undefined) ?? {},
    prune: {
      enabled: prune.enabled ?? DEFAULT_PRUNE.enabled,
      maxDeletes: prune.max_deletes ?? DEFAULT_PRUNE.maxDeletes,
      maxDeleteRatio: prune.max_delete_ratio ?? DEFAULT_PRUNE.maxDeleteRatio,
    },
  };
}

/**
 * The ownership id in force: an environment may name its own, otherwise `<owner>.<environment>`,
 * so that `dev` and `prod` applied to one server never prune each other's deployments.
 */
export function effectiveOwner(config: ProjectConfig, environment: string | undefined): string {
  if (!environment) return config.owner;
  return config.environments[environment]?.owner ?? `${config.owner}.${environment}`;
}

/** Whether `branch` may apply to `environment` (globs: `*` within a segment, `**` across). */
export function branchAllowed(config: ProjectConfig, environment: string | undefined, branch: string): boolean {
  const allowed = environment ? config.environments[environment]?.branches : undefined;
  if (!allowed) return true;
  return allowed.some((glob) => globToRegExp(glob).test(branch));
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\u0000').replace(/\*/g, '[^/]*').replace(/\u0000/g, '.*').replace(/\?/g, '[^/]');
  return new RegExp(`^${escaped}$`);
}
