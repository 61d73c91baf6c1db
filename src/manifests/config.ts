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
}

/** The project config after schema validation, with defaults filled in. */
export interface ProjectConfig {
  readonly owner: string;
  readonly projectRoot: string;
  readonly ignore: readonly string[];
  readonly defaults: JsonObject;
  readonly environments: Readonly<Record<string, EnvironmentConfig>>;
  readonly prune: PrunePolicy;
}

export const DEFAULT_PRUNE: PrunePolicy = { enabled: false, maxDeletes: 10, maxDeleteRatio: 0.5 };

/** Builds the typed config from a value that already passed `config.schema.json`. */
export function toProjectConfig(raw: Record<string, unknown>, configDir: string, resolvePath: (dir: string, rel: string) => string): ProjectConfig {
  const prune = (raw.prune ?? {}) as { enabled?: boolean; max_deletes?: number; max_delete_ratio?: number };
  const environments: Record<string, EnvironmentConfig> = {};
  for (const [name, env] of Object.entries((raw.environments ?? {}) as Record<string, { owner?: string; defaults?: JsonObject } | null>)) {
    environments[name] = { ...(env?.owner ? { owner: env.owner } : {}), defaults: env?.defaults ?? {} };
  }
  return {
    owner: raw.owner as string,
    projectRoot: resolvePath(configDir, (raw.project_root as string | undefined) ?? '.'),
    ignore: (raw.ignore as string[] | undefined) ?? [],
    defaults: (raw.defaults as JsonObject | undefined) ?? {},
    environments,
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
