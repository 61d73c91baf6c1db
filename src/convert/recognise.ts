/**
 * Recognising a Prefect 2 `deployment.yaml` (the output of `prefect deployment build`), so that
 * validate, plan and apply can say what the file is and how to convert it instead of listing
 * a dozen unknown keys. Pure.
 */

/**
 * Keys a `deployment.yaml` written by Prefect 2's `Deployment.to_yaml` has and a prefect-gitops
 * manifest never has at its top level.
 */
const PREFECT2_KEYS = ['work_queue_name', 'work_pool_name', 'schedule', 'is_schedule_active', 'infra_overrides', 'infrastructure', 'storage', 'manifest_path', 'timestamp'] as const;

/**
 * Whether a YAML document is a Prefect 2 deployment.yaml: at least two of its characteristic
 * top-level keys. One alone (a misplaced `work_queue_name`) is an ordinary mistake, reported by
 * the schema as usual.
 */
export function isPrefect2DeploymentYaml(value: unknown): boolean {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = new Set(Object.keys(value));
  return PREFECT2_KEYS.filter((key) => keys.has(key)).length >= 2;
}

/** What validate, plan and apply say about such a document. */
export function prefect2DeploymentYamlMessage(file: string): string {
  return (
    `this is a Prefect 2 deployment.yaml (written by \`prefect deployment build\`), which Prefect 3 and prefect-gitops do not read; ` +
    `convert it into prefect-gitops manifests with: prefect-gitops convert ${file} --out <dir> --owner <id>`
  );
}
