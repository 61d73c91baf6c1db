/**
 * Prefect 2 blocks inside a deployment.yaml (the inline `infrastructure` and `storage` dicts that
 * `prefect deployment build` writes) as Prefect 3 work pool job variables and pull steps. Pure.
 * The defaults and field names are those of Prefect 2.20's blocks (prefect/infrastructure/*.py,
 * prefect/filesystems.py) and of the Prefect 3 workers' base job templates.
 */
import type { Json, JsonObject } from '../prefect/types.js';
import { isSensitiveKey } from '../render/redact.js';

/** What Prefect writes for a `SecretStr`/`SecretDict` value in a block's JSON: the value itself is gone. */
export const OBFUSCATED = '**********';

/** A finding about one field, located by its path inside the block. */
export interface BlockNote {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

interface InfrastructureKind {
  /** Prefect 3 work pool type. */
  readonly poolType: string;
  /** Block fields that are job variables of that pool type, with the block's default. */
  readonly fields: Readonly<Record<string, Json | typeof NO_DEFAULT>>;
  /** Fields that exist on the block but have no job variable; each says why (what to do instead). */
  readonly unconvertible?: Readonly<Record<string, string>>;
}

/** A field whose default is computed at build time (Docker's image): any written value is kept unless it is that computation's result. */
const NO_DEFAULT = Symbol('no default');

const COMMON = { env: {}, labels: {}, name: null, command: null } as const;

const INFRASTRUCTURE: Readonly<Record<string, InfrastructureKind>> = {
  process: { poolType: 'process', fields: { ...COMMON, stream_output: true, working_dir: null } },
  'docker-container': {
    poolType: 'docker',
    fields: {
      ...COMMON,
      image: NO_DEFAULT,
      image_pull_policy: null,
      networks: [],
      network_mode: null,
      auto_remove: false,
      volumes: [],
      stream_output: true,
      memswap_limit: null,
      mem_limit: null,
      privileged: false,
    },
    unconvertible: { image_registry: 'registry credentials are a DockerRegistryCredentials block in Prefect 3: set job_variables.registry_credentials to it' },
  },
  'kubernetes-job': {
    poolType: 'kubernetes',
    fields: {
      ...COMMON,
      image: null,
      namespace: null,
      service_account_name: null,
      image_pull_policy: null,
      job_watch_timeout_seconds: null,
      pod_watch_timeout_seconds: 60,
      stream_output: true,
      finished_job_ttl: null,
    },
    unconvertible: {
      cluster_config: 'the cluster config is a KubernetesClusterConfig block in Prefect 3: set job_variables.cluster_config to it',
      job: "a custom job manifest belongs in the kubernetes work pool's base job template",
      customizations: "JSON patches of the job manifest belong in the kubernetes work pool's base job template",
    },
  },
};

/** Block types of Prefect 2 integrations whose workers kept the block's field names. */
const OTHER_POOL_TYPES: Readonly<Record<string, string>> = {
  'ecs-task': 'ecs',
  'cloud-run-job': 'cloud-run',
  'vertex-ai-custom-job': 'vertex-ai',
  'azure-container-instance-job': 'azure-container-instance',
};

/** Block bookkeeping keys in the YAML, never job variables. */
const BLOCK_META = new Set(['type', 'block_type_slug', '_block_type_slug', '_block_document_id', '_block_document_name', '_is_anonymous']);

/** The command Prefect 2 infrastructure ran by default: Prefect 3 workers start `prefect flow-run execute` instead. */
const PREFECT2_ENGINE_COMMAND = /^python(3(\.\d+)?)? -m prefect\.engine$/;
/** The image Prefect 2's DockerContainer used by default (`prefecthq/prefect:<2.x>-python3.x`). */
const PREFECT2_DEFAULT_IMAGE = /^prefecthq\/prefect:2\.[^/]*$/;

export interface InfrastructureConversion {
  readonly poolType: string;
  /** The block's non-default fields as job variables (sensitive-looking values left out). */
  readonly jobVariables: JsonObject;
  readonly notes: BlockNote[];
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isEmpty = (v: unknown): boolean => v === null || v === undefined || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);

/** The block type slug of an inline block dict (`_block_type_slug`, else `type`). */
export function blockType(block: Record<string, unknown>): string | undefined {
  const slug = block._block_type_slug ?? block.block_type_slug ?? block.type;
  return typeof slug === 'string' ? slug : undefined;
}

/** An inline infrastructure block as the pool type and job variables of a Prefect 3 worker. */
export function convertInfrastructure(block: Record<string, unknown>): InfrastructureConversion {
  const type = blockType(block) ?? 'process';
  const notes: BlockNote[] = [];
  const known = INFRASTRUCTURE[type];
  const poolType = known?.poolType ?? OTHER_POOL_TYPES[type] ?? type.replace(/-(job|task|container)$/, '');
  if (!known) {
    notes.push({ path: ['type'], message: `infrastructure "${type}" becomes a "${poolType}" work pool; its fields are written as job variables of the same name: check them against the pool's base job template` });
  }
  const jobVariables: JsonObject = {};
  for (const [key, value] of Object.entries(block)) {
    if (BLOCK_META.has(key)) continue;
    const why = known?.unconvertible?.[key];
    if (why !== undefined) {
      // `job` is always written (the full default manifest); `customizations` say whether it was changed.
      if (key !== 'job' && !isEmpty(value)) notes.push({ path: [key], message: `${key} is not converted: ${why}` });
      continue;
    }
    if (known && !(key in known.fields)) {
      if (!isEmpty(value)) notes.push({ path: [key], message: `${key} is not a job variable of a ${poolType} work pool; not converted` });
      continue;
    }
    const fallback = known?.fields[key];
    if (fallback !== undefined && fallback !== NO_DEFAULT ? same(value, fallback) : isEmpty(value)) continue;
    if (key === 'image' && typeof value === 'string' && PREFECT2_DEFAULT_IMAGE.test(value)) {
      notes.push({ path: [key], message: `image ${value} is Prefect 2's default image, which cannot run a Prefect 3 flow; left out, so the work pool's default (Prefect 3) image is used` });
      continue;
    }
    if (key === 'command' && Array.isArray(value) && PREFECT2_ENGINE_COMMAND.test(value.join(' '))) {
      notes.push({ path: [key], message: `command "${value.join(' ')}" starts Prefect 2's engine; left out, so the Prefect 3 worker's own command is used` });
      continue;
    }
    const kept = withoutSecrets(value as Json, [key], notes);
    if (kept !== undefined && !isEmpty(kept)) jobVariables[key] = kept;
  }
  return { poolType, jobVariables, notes };
}

/**
 * `value` without what must not be written into a manifest: obfuscated secrets (which the file no
 * longer holds) and values under sensitive-looking keys (an `env` entry such as `API_TOKEN`).
 * Each removal is a note naming the field; undefined when the whole value goes.
 */
export function withoutSecrets(value: Json, path: readonly (string | number)[], notes: BlockNote[]): Json | undefined {
  const last = path[path.length - 1];
  if (typeof last === 'string' && isSensitiveKey(last) && value !== null && typeof value !== 'boolean' && !isEmpty(value)) {
    notes.push({ path, message: `${path.join('.')} looks like a secret and is not written into the manifest: keep it in a Prefect Secret block and refer to it as "{{ prefect.blocks.secret.<name> }}"` });
    return undefined;
  }
  if (value === OBFUSCATED) {
    notes.push({ path, message: `${path.join('.')} is a secret Prefect 2 wrote as "${OBFUSCATED}" (the value is not in the file): set it again in the work pool or a Secret block` });
    return undefined;
  }
  if (Array.isArray(value)) return value.map((item, i) => withoutSecrets(item, [...path, i], notes)).filter((item): item is Json => item !== undefined);
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) {
      const kept = withoutSecrets(v as Json, [...path, k], notes);
      if (kept !== undefined) out[k] = kept;
    }
    return out;
  }
  return value;
}

/**
 * Dotted `infra_overrides` (`env.FOO: bar`, as `prefect deployment build --override env.FOO=bar`
 * writes them) as nested job variables, merged over `base`. Values given on the command line are
 * strings: a `true`/`false` or a number where the block's field is a boolean or a number is
 * turned into one, as pydantic did when Prefect 2 applied the override to the block.
 */
export function expandOverrides(base: JsonObject, overrides: Record<string, unknown>, blockTypeSlug: string | undefined): JsonObject {
  const out = structuredClone(base);
  const defaults = INFRASTRUCTURE[blockTypeSlug ?? 'process']?.fields ?? {};
  for (const [dotted, raw] of Object.entries(overrides)) {
    const parts = dotted.split('.');
    let value = raw as Json;
    const fallback = parts.length === 1 ? defaults[parts[0]!] : undefined;
    if (typeof value === 'string' && typeof fallback === 'boolean' && /^(true|false)$/i.test(value)) value = value.toLowerCase() === 'true';
    else if (typeof value === 'string' && (typeof fallback === 'number' || parts[0] === 'pod_watch_timeout_seconds' || parts[0] === 'job_watch_timeout_seconds' || parts[0] === 'finished_job_ttl') && /^-?\d+(\.\d+)?$/.test(value)) value = Number(value);
    let node: JsonObject = out;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (!isObject(next)) node[part] = {};
      node = node[part] as JsonObject;
    }
    node[parts[parts.length - 1]!] = value;
  }
  return out;
}

export interface StorageConversion {
  /** Pull steps that bring the flow code where the run starts. */
  readonly pull: JsonObject[];
  /** Whether the entrypoint is relative to the storage's root (true: join `path` in front of it). */
  readonly entrypointUnderPath: boolean;
  readonly notes: BlockNote[];
}

const joinPath = (...parts: (string | undefined | null)[]): string =>
  parts
    .filter((p): p is string => typeof p === 'string' && p !== '')
    .map((p, i) => (i === 0 ? p.replace(/\/+$/, '') : p.replace(/^\/+|\/+$/g, '')))
    .filter((p, i) => p !== '' || i === 0)
    .join('/');

/** `bucket/folder/sub` -> bucket and folder. */
function splitBucketPath(bucketPath: string): { bucket: string; folder: string } {
  const [bucket, ...rest] = bucketPath.replace(/^[a-z0-9]+:\/\//i, '').split('/');
  return { bucket: bucket ?? '', folder: rest.filter(Boolean).join('/') };
}

/**
 * A storage block (or none) and the deployment's `path` as pull steps. Without storage Prefect 2
 * copied `path` (a directory on the machine that runs the flow) into the run's directory; with a
 * local-file-system block, `basepath/path`; both become `set_working_directory`. Remote storage
 * becomes the matching pull step of the Prefect 3 integration.
 */
export function convertStorage(storage: Record<string, unknown> | null | undefined, path: string | null | undefined): StorageConversion {
  const notes: BlockNote[] = [];
  if (!storage || isEmpty(storage)) {
    if (!path) return { pull: [], entrypointUnderPath: false, notes };
    return { pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: path } }], entrypointUnderPath: false, notes };
  }
  const type = blockType(storage);
  const fields = Object.keys(storage).filter((k) => !BLOCK_META.has(k));
  const secret = (key: string, hint: string): void => {
    if (!isEmpty(storage[key])) notes.push({ path: [key], message: `${key} is a credential and is not written into the manifest: ${hint}` });
  };
  if (fields.length === 0) {
    const name = typeof storage._block_document_name === 'string' ? ` "${storage._block_document_name}"` : '';
    notes.push({ path: [], message: `storage block${name} is referenced only by id (its fields are not in the file): write its pull step by hand` });
    return { pull: [], entrypointUnderPath: false, notes };
  }
  switch (type) {
    case 'local-file-system': {
      const basepath = typeof storage.basepath === 'string' ? storage.basepath : '';
      return { pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: joinPath(basepath, path) || '.' } }], entrypointUnderPath: false, notes };
    }
    case 'github':
    case 'github-repository':
    case 'gitlab-repository':
    case 'bitbucket-repository': {
      const repository = storage.repository ?? storage.repository_url ?? storage.repo;
      const reference = storage.reference ?? storage.branch;
      const step: JsonObject = { repository: typeof repository === 'string' ? repository : '' };
      if (typeof reference === 'string' && reference) step.branch = reference;
      secret('access_token', 'store the token in a Secret block and add access_token: "{{ prefect.blocks.secret.<name> }}" to the git_clone step');
      secret('credentials', 'refer to a credentials block in the git_clone step: credentials: "{{ prefect.blocks.<type>.<name> }}"');
      if (storage.include_git_objects === false) notes.push({ path: ['include_git_objects'], message: 'include_git_objects: false has no git_clone equivalent (the clone keeps .git)' });
      return { pull: [{ 'prefect.deployments.steps.git_clone': step }], entrypointUnderPath: true, notes };
    }
    case 's3':
    case 's3-bucket': {
      const { bucket, folder } = type === 's3' ? splitBucketPath(String(storage.bucket_path ?? '')) : { bucket: String(storage.bucket_name ?? ''), folder: String(storage.bucket_folder ?? '') };
      secret('aws_access_key_id', 'refer to an AwsCredentials block in the pull step: credentials: "{{ prefect.blocks.aws-credentials.<name> }}"');
      secret('aws_secret_access_key', 'refer to an AwsCredentials block in the pull step: credentials: "{{ prefect.blocks.aws-credentials.<name> }}"');
      secret('credentials', 'refer to the AwsCredentials block in the pull step: credentials: "{{ prefect.blocks.aws-credentials.<name> }}"');
      return { pull: [{ 'prefect_aws.deployments.steps.pull_from_s3': { requires: 'prefect-aws>=0.3.4', bucket, folder: joinPath(folder, path) } }], entrypointUnderPath: false, notes };
    }
    case 'gcs':
    case 'gcs-bucket': {
      const { bucket, folder } = type === 'gcs' ? splitBucketPath(String(storage.bucket_path ?? '')) : { bucket: String(storage.bucket ?? ''), folder: String(storage.bucket_folder ?? '') };
      secret('service_account_info', 'refer to a GcpCredentials block in the pull step: credentials: "{{ prefect.blocks.gcp-credentials.<name> }}"');
      secret('gcp_credentials', 'refer to the GcpCredentials block in the pull step: credentials: "{{ prefect.blocks.gcp-credentials.<name> }}"');
      const step: JsonObject = { requires: 'prefect-gcp>=0.4.3', bucket, folder: joinPath(folder, path) };
      if (typeof storage.project === 'string' && storage.project) step.project = storage.project;
      return { pull: [{ 'prefect_gcp.deployments.steps.pull_from_gcs': step }], entrypointUnderPath: false, notes };
    }
    case 'azure':
    case 'azure-blob-storage-container': {
      const { bucket, folder } = type === 'azure' ? splitBucketPath(String(storage.bucket_path ?? '')) : { bucket: String(storage.container_name ?? ''), folder: String(storage.bucket_folder ?? '') };
      for (const key of ['azure_storage_connection_string', 'azure_storage_account_key', 'azure_storage_client_secret', 'credentials']) {
        secret(key, 'refer to an AzureBlobStorageCredentials block in the pull step: credentials: "{{ prefect.blocks.azure-blob-storage-credentials.<name> }}"');
      }
      return { pull: [{ 'prefect_azure.deployments.steps.pull_from_azure_blob_storage': { requires: 'prefect-azure>=0.2.8', container: bucket, folder: joinPath(folder, path) } }], entrypointUnderPath: false, notes };
    }
    default:
      notes.push({ path: ['_block_type_slug'], message: `storage block type "${type ?? 'unknown'}" has no pull step prefect-gitops can write: add the pull steps that fetch the code by hand` });
      return { pull: [], entrypointUnderPath: false, notes };
  }
}
