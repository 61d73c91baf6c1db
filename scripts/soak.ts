// Soak (not a test) of `prefect-gitops apply` through a fault-injecting proxy in front of a REAL
// Prefect server: `npm run soak -- --cycles N --fault-rate 0.15 [--deployments D] [--seed S]
// [--max-minutes M] [--verbose]`.
//
// It starts its own server (scripts/prefect-server.ts) and the proxy (test/helpers/fault-proxy.ts),
// both on 127.0.0.1 only. Each cycle makes a random change to a generated manifest set (add,
// remove and rename deployments; change fields, schedules and triggers), runs the CLI's `apply
// --prune` through the proxy at the given fault rate (every fault kind, including responses
// dropped after the server acted and hangs), then checks the server directly (bypassing the
// proxy): does `plan` come out empty, are deployments lost or extra, are automations or schedules
// doubled, and did the exit code tell the truth. When the apply did not converge, it runs the
// same apply once more WITHOUT faults (through the proxy with injection off) and checks again.
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { main } from '../src/cli/main.js';
import { ALL_FAULTS, startFaultProxy, type FaultProxy } from '../test/helpers/fault-proxy.js';
import { startPrefectServer, type PrefectServerHandle } from './prefect-server.js';

const USAGE = `usage: npm run soak -- [--cycles N] [--fault-rate R] [--deployments D] [--seed S] [--max-minutes M] [--verbose]
  --cycles N        cycles to run (default 20)
  --fault-rate R    share of requests through the proxy that get a fault, 0..1 (default 0.15)
  --deployments D   deployments in the generated manifest set at the start (default 5; it stays within 2..2D)
  --seed S          seed for the random mutations and faults (default: random; printed)
  --max-minutes M   stop starting cycles after this long (default 45)
  --verbose         print the CLI output of every apply that did not converge`;

// ---------------------------------------------------------------------------------------------
// A small seeded PRNG, so a failing run can be repeated with --seed.

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// The manifest model and its mutations.

interface ScheduleModel {
  slug: string;
  cron?: string;
  interval?: number;
  active?: boolean;
}

interface TriggerModel {
  name: string;
  expect: string;
  enabled: boolean;
}

interface DeploymentModel {
  name: string;
  description: string;
  paused: boolean;
  tags: string[];
  n: number;
  concurrency: number | null;
  schedules: ScheduleModel[];
  triggers: TriggerModel[];
}

class Model {
  deployments: DeploymentModel[] = [];
  private serial = 0;

  constructor(
    private readonly random: () => number,
    private readonly size: number,
  ) {
    for (let i = 0; i < size; i += 1) this.deployments.push(this.fresh());
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  private nextName(prefix: string): string {
    this.serial += 1;
    return `${prefix}-${this.serial}`;
  }

  private fresh(): DeploymentModel {
    const d: DeploymentModel = { name: this.nextName('dep'), description: 'soak', paused: false, tags: ['soak'], n: 1, concurrency: null, schedules: [], triggers: [] };
    if (this.random() < 0.6) d.schedules.push(this.schedule());
    if (this.random() < 0.5) d.triggers.push(this.trigger());
    return d;
  }

  private schedule(): ScheduleModel {
    const slug = this.nextName('s');
    return this.random() < 0.5 ? { slug, cron: `${Math.floor(this.random() * 60)} * * * *` } : { slug, interval: 300 + Math.floor(this.random() * 10) * 60 };
  }

  private trigger(): TriggerModel {
    return { name: this.nextName('auto'), expect: `soak.event.${Math.floor(this.random() * 5)}`, enabled: true };
  }

  /** Applies 1-3 random mutations; returns what it did. */
  mutate(): string[] {
    const done: string[] = [];
    const count = 1 + Math.floor(this.random() * 3);
    for (let i = 0; i < count; i += 1) done.push(this.mutateOnce());
    return done;
  }

  private mutateOnce(): string {
    const kinds = ['add', 'remove', 'rename', 'field', 'field', 'schedule', 'schedule', 'trigger', 'trigger'] as const;
    let kind = this.pick(kinds);
    if (kind === 'remove' && this.deployments.length <= 2) kind = 'add';
    if (kind === 'add' && this.deployments.length >= this.size * 2) kind = 'field';
    if (kind === 'add') {
      const d = this.fresh();
      this.deployments.push(d);
      return `add ${d.name}`;
    }
    const d = this.pick(this.deployments);
    switch (kind) {
      case 'remove':
        this.deployments = this.deployments.filter((x) => x !== d);
        return `remove ${d.name}`;
      case 'rename': {
        const old = d.name;
        d.name = this.nextName('dep');
        return `rename ${old} -> ${d.name}`;
      }
      case 'field': {
        const field = this.pick(['description', 'paused', 'tags', 'parameters', 'concurrency'] as const);
        if (field === 'description') d.description = `soak ${this.nextName('v')}`;
        else if (field === 'paused') d.paused = !d.paused;
        else if (field === 'tags') d.tags = d.tags.length > 1 ? ['soak'] : ['soak', this.nextName('t')];
        else if (field === 'parameters') d.n += 1;
        else d.concurrency = d.concurrency === null ? 1 + Math.floor(this.random() * 3) : null;
        return `${d.name}: ${field}`;
      }
      case 'schedule': {
        const op = d.schedules.length === 0 ? 'add' : this.pick(['add', 'remove', 'change', 'toggle'] as const);
        if (op === 'add' || d.schedules.length === 0) d.schedules.push(this.schedule());
        else if (op === 'remove') d.schedules.splice(Math.floor(this.random() * d.schedules.length), 1);
        else {
          const s = this.pick(d.schedules);
          if (op === 'toggle') s.active = s.active === false;
          else if (s.cron) s.cron = `${Math.floor(this.random() * 60)} * * * *`;
          else s.interval = 300 + Math.floor(this.random() * 10) * 60;
        }
        return `${d.name}: schedule ${op}`;
      }
      case 'trigger': {
        const op = d.triggers.length === 0 ? 'add' : this.pick(['add', 'remove', 'change', 'toggle'] as const);
        if (op === 'add' || d.triggers.length === 0) d.triggers.push(this.trigger());
        else if (op === 'remove') d.triggers.splice(Math.floor(this.random() * d.triggers.length), 1);
        else {
          const t = this.pick(d.triggers);
          if (op === 'toggle') t.enabled = !t.enabled;
          else t.expect = `soak.event.${this.nextName('e')}`;
        }
        return `${d.name}: trigger ${op}`;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The project on disk.

const flowSource = (flow: string): string => `from prefect import flow


@flow(name="${flow}")
def job(n: int = 1) -> int:
    return n
`;

async function writeProject(dir: string, owner: string, pool: string, model: Model): Promise<void> {
  await rm(join(dir, 'deployments'), { recursive: true, force: true });
  await mkdir(join(dir, 'deployments'), { recursive: true });
  // Guards lifted: a rename plus a removal in a small set would otherwise trip the ratio guard,
  // which is tested elsewhere; here every cycle must be applicable.
  await writeFile(join(dir, 'prefect-gitops.yaml'), stringify({ owner, prune: { enabled: true, max_deletes: 1000, max_delete_ratio: 1 } }));
  for (const d of model.deployments) {
    const manifest = {
      name: d.name,
      entrypoint: 'flows/job.py:job',
      description: d.description,
      paused: d.paused,
      tags: d.tags,
      parameters: { n: d.n },
      work_pool: { name: pool },
      ...(d.concurrency !== null ? { concurrency_limit: d.concurrency } : {}),
      schedules: d.schedules.map((s) => ({ slug: s.slug, ...(s.cron ? { cron: s.cron } : { interval: s.interval }), ...(s.active === false ? { active: false } : {}) })),
      triggers: d.triggers.map((t) => ({ name: t.name, enabled: t.enabled, match: { 'prefect.resource.id': 'soak.*' }, expect: [t.expect] })),
    };
    await writeFile(join(dir, 'deployments', `${d.name}.yaml`), stringify(manifest));
  }
}

// ---------------------------------------------------------------------------------------------
// Direct checks against the server (no proxy).

interface Verdict {
  planEmpty: boolean;
  lost: string[];
  extra: string[];
  duplicateAutomations: number;
  duplicateSchedules: number;
  orphanedAutomations: number;
}

async function direct<T>(apiUrl: string, method: string, path: string, body?: unknown): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (response.status === 503 && attempt < 5) {
      await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
      continue;
    }
    if (!response.ok) throw new Error(`${method} ${path} -> ${response.status}: ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

async function pagedFilter<T>(apiUrl: string, path: string, filter: Record<string, unknown>): Promise<T[]> {
  const out: T[] = [];
  for (let offset = 0; ; offset += 200) {
    const page = await direct<T[]>(apiUrl, 'POST', path, { ...filter, limit: 200, offset });
    out.push(...page);
    if (page.length < 200) return out;
  }
}

async function verify(apiUrl: string, dir: string, owner: string, model: Model): Promise<Verdict> {
  const plan = await cli(['plan', dir, '--detailed-exitcode'], apiUrl);
  const tag = `prefect-gitops:${owner}`;
  const deployments = await pagedFilter<{ id: string; name: string; schedules: { slug: string | null }[] }>(apiUrl, '/deployments/filter', { deployments: { tags: { all_: [tag] } } });
  const automations = await pagedFilter<{ id: string; name: string; actions: { deployment_id?: string }[] }>(apiUrl, '/automations/filter', { automations: { tags: { all_: [tag] } } });
  const want = new Map(model.deployments.map((d) => [d.name, d]));
  const have = new Set(deployments.map((d) => d.name));
  let duplicateSchedules = 0;
  for (const d of deployments) {
    const slugs = d.schedules.map((s) => s.slug ?? '(none)');
    duplicateSchedules += slugs.length - new Set(slugs).size;
    const expected = want.get(d.name)?.schedules.length;
    if (expected !== undefined && new Set(slugs).size > expected) duplicateSchedules += new Set(slugs).size - expected;
  }
  const liveIds = new Set(deployments.map((d) => d.id));
  const seen = new Map<string, number>();
  let orphanedAutomations = 0;
  for (const a of automations) {
    const target = a.actions[0]?.deployment_id ?? '';
    if (!liveIds.has(target)) orphanedAutomations += 1;
    const key = `${target}/${a.name}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  const duplicateAutomations = [...seen.values()].reduce((sum, n) => sum + n - 1, 0);
  return {
    planEmpty: plan.code === 0,
    lost: [...want.keys()].filter((n) => !have.has(n)),
    extra: [...have].filter((n) => !want.has(n)),
    duplicateAutomations,
    duplicateSchedules,
    orphanedAutomations,
  };
}

const converged = (v: Verdict): boolean =>
  v.planEmpty && v.lost.length === 0 && v.extra.length === 0 && v.duplicateAutomations === 0 && v.duplicateSchedules === 0 && v.orphanedAutomations === 0;

// ---------------------------------------------------------------------------------------------

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real CLI, in this process (no spawn per run), against `apiUrl`. */
async function cli(args: string[], apiUrl: string): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: { PREFECT_API_URL: apiUrl },
    cwd: process.cwd(),
    isTty: false,
  });
  return { code, stdout, stderr };
}

/** The apply every cycle runs: prune on, a short per-request timeout so hangs cost seconds, a total limit. */
const applyArgs = (dir: string): string[] => ['apply', dir, '--prune', '--request-timeout', '3s', '--timeout', '5m'];

interface Totals {
  cycles: number;
  convergedFirst: number;
  convergedRerun: number;
  duplicateAutomations: number;
  duplicateSchedules: number;
  orphanedAutomations: number;
  lost: number;
  extra: number;
  exitZeroNotConverged: number;
  exitNonZeroConverged: number;
  exitCodes: Map<number, number>;
  faults: Map<string, number>;
  requests: number;
  failedCycles: string[];
}

async function soak(options: { cycles: number; faultRate: number; deployments: number; seed: number; maxMinutes: number; verbose: boolean }): Promise<Totals> {
  const started = Date.now();
  const random = prng(options.seed);
  let server: PrefectServerHandle | undefined;
  let proxy: FaultProxy | undefined;
  let dir: string | undefined;
  const totals: Totals = {
    cycles: 0,
    convergedFirst: 0,
    convergedRerun: 0,
    duplicateAutomations: 0,
    duplicateSchedules: 0,
    orphanedAutomations: 0,
    lost: 0,
    extra: 0,
    exitZeroNotConverged: 0,
    exitNonZeroConverged: 0,
    exitCodes: new Map(),
    faults: new Map(),
    requests: 0,
    failedCycles: [],
  };
  try {
    process.stderr.write('starting a Prefect server (scheduler off)...\n');
    server = await startPrefectServer({ scheduler: false });
    proxy = await startFaultProxy(server.apiUrl);
    process.stderr.write(`prefect ${server.version} at ${server.apiUrl}; fault proxy at ${proxy.apiUrl}; seed ${options.seed}\n`);
    const suffix = randomBytes(3).toString('hex');
    const owner = `soak-${suffix}`;
    const flow = `soak-flow-${suffix}`;
    const pool = `soak-pool-${suffix}`;
    await direct(server.apiUrl, 'POST', '/work_pools/', { name: pool, type: 'process' });
    dir = await mkdtemp(join(tmpdir(), 'prefect-gitops-soak-'));
    await mkdir(join(dir, 'flows'), { recursive: true });
    await writeFile(join(dir, 'flows', 'job.py'), flowSource(flow));
    const model = new Model(random, options.deployments);
    await writeProject(dir, owner, pool, model);
    // The starting set is applied without faults: cycles measure changes, not the first import.
    const first = await cli(applyArgs(dir), server.apiUrl);
    if (first.code !== 0) throw new Error(`the initial apply failed (exit ${first.code}):\n${first.stdout}\n${first.stderr}`);

    for (let cycle = 1; cycle <= options.cycles; cycle += 1) {
      if (Date.now() - started > options.maxMinutes * 60_000) {
        process.stderr.write(`stopping after ${cycle - 1} cycles: --max-minutes ${options.maxMinutes} reached\n`);
        break;
      }
      const mutations = model.mutate();
      await writeProject(dir, owner, pool, model);
      proxy.reset();
      proxy.setRandom({ rate: options.faultRate, faults: ALL_FAULTS, random });
      const t0 = Date.now();
      const run = await cli(applyArgs(dir), proxy.apiUrl);
      proxy.setRandom(undefined);
      const faults = proxy.requests.filter((r) => r.fault).map((r) => r.fault!);
      totals.requests += proxy.requests.length;
      for (const f of faults) totals.faults.set(f, (totals.faults.get(f) ?? 0) + 1);
      totals.exitCodes.set(run.code, (totals.exitCodes.get(run.code) ?? 0) + 1);
      const after = await verify(server.apiUrl, dir, owner, model);
      const ok = converged(after);
      totals.cycles += 1;
      totals.duplicateAutomations += after.duplicateAutomations;
      totals.duplicateSchedules += after.duplicateSchedules;
      totals.orphanedAutomations += after.orphanedAutomations;
      if (ok) totals.convergedFirst += 1;
      if (run.code === 0 && !ok) totals.exitZeroNotConverged += 1;
      if (run.code !== 0 && ok) totals.exitNonZeroConverged += 1;
      let line = `cycle ${cycle}: ${mutations.join('; ')} | ${faults.length} fault${faults.length === 1 ? '' : 's'} (${faults.join(', ') || '-'}) | exit ${run.code} | ${((Date.now() - t0) / 1000).toFixed(1)}s | ${ok ? 'converged' : `NOT converged ${JSON.stringify(after)}`}`;
      let final = after;
      if (!ok) {
        if (options.verbose || run.code === 0) line += `\n--- apply output ---\n${run.stdout}${run.stderr}--- end ---`;
        // One re-run, same command, faults off.
        const rerun = await cli(applyArgs(dir), proxy.apiUrl);
        final = await verify(server.apiUrl, dir, owner, model);
        const again = converged(final);
        if (again) totals.convergedRerun += 1;
        else totals.failedCycles.push(`cycle ${cycle}: ${JSON.stringify(final)}\n${rerun.stdout}${rerun.stderr}`);
        line += ` | re-run without faults: exit ${rerun.code}, ${again ? 'converged' : `NOT converged ${JSON.stringify(final)}`}`;
      } else {
        totals.convergedRerun += 1;
      }
      // Lost/extra are what remains wrong after everything: a deployment missing after the re-run is lost.
      totals.lost += final.lost.length;
      totals.extra += final.extra.length;
      process.stdout.write(line + '\n');
    }
  } finally {
    await proxy?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
  return totals;
}

function printSummary(t: Totals, options: { faultRate: number; seed: number }, wallMs: number): void {
  const pct = (n: number): string => (t.cycles ? `${((n / t.cycles) * 100).toFixed(1)}%` : '-');
  const minutes = Math.floor(wallMs / 60_000);
  const seconds = Math.round((wallMs % 60_000) / 1000);
  const rows: [string, string][] = [
    ['cycles', String(t.cycles)],
    ['fault rate / seed', `${options.faultRate} / ${options.seed}`],
    ['requests through the proxy', String(t.requests)],
    ['faults injected', `${[...t.faults.values()].reduce((a, b) => a + b, 0)} (${[...t.faults].sort().map(([k, v]) => `${k} ${v}`).join(', ')})`],
    ['converged after one apply', `${t.convergedFirst} (${pct(t.convergedFirst)})`],
    ['converged after one re-run (no faults)', `${t.convergedRerun} (${pct(t.convergedRerun)})`],
    ['duplicate automations', String(t.duplicateAutomations)],
    ['duplicate schedules', String(t.duplicateSchedules)],
    ['orphaned automations', String(t.orphanedAutomations)],
    ['lost deployments (after the re-run)', String(t.lost)],
    ['extra deployments (after the re-run)', String(t.extra)],
    ['misleading exit: 0 but not converged', String(t.exitZeroNotConverged)],
    ['misleading exit: non-zero but converged', String(t.exitNonZeroConverged)],
    ['apply exit codes', [...t.exitCodes].sort(([a], [b]) => a - b).map(([code, n]) => `${code}: ${n}`).join(', ')],
    ['wall time', `${minutes}m${String(seconds).padStart(2, '0')}s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write('\n' + rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n');
  for (const failure of t.failedCycles) process.stdout.write(`\nnot converged after the re-run: ${failure}\n`);
}

async function cliMain(): Promise<number> {
  const { values } = parseArgs({
    options: {
      cycles: { type: 'string', default: '20' },
      'fault-rate': { type: 'string', default: '0.15' },
      deployments: { type: 'string', default: '5' },
      seed: { type: 'string' },
      'max-minutes': { type: 'string', default: '45' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const number = (name: string, value: string | undefined, min: number, max: number): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in ${min}..${max}, got "${value}"\n${USAGE}`);
    return n;
  };
  const options = {
    cycles: Math.floor(number('cycles', values.cycles, 1, 10_000)),
    faultRate: number('fault-rate', values['fault-rate'], 0, 1),
    deployments: Math.floor(number('deployments', values.deployments, 2, 200)),
    seed: values.seed !== undefined ? Math.floor(number('seed', values.seed, 0, 2 ** 32 - 1)) : Math.floor(Math.random() * 2 ** 31),
    maxMinutes: number('max-minutes', values['max-minutes'], 1, 24 * 60),
    verbose: values.verbose ?? false,
  };
  const started = Date.now();
  const totals = await soak(options);
  printSummary(totals, options, Date.now() - started);
  const clean = totals.convergedRerun === totals.cycles && totals.duplicateAutomations + totals.duplicateSchedules + totals.lost + totals.exitZeroNotConverged + totals.exitNonZeroConverged === 0;
  return clean ? 0 : 1;
}

cliMain().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`soak failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
