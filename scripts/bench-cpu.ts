// Benchmark (not a test) of our own CPU and memory for `plan` at N owned deployments, measured as
// users run it: the CLI binary as a whole process, its user + system CPU and peak RSS
// (process.resourceUsage of the finished child, as /usr/bin/time reports them). The Prefect
// server's own time is left out by replaying recorded responses: the numbers are ours alone.
//
//   npx tsx scripts/bench-cpu.ts record --deployments 1000 --dir /tmp/plan-1k
//     starts a real Prefect server (the pinned version, throwaway home), writes a project of N
//     deployments (scripts/bench-validate.ts), applies it with the CLI, then runs `plan` once
//     through a recording proxy and writes every request and response to DIR/recording.json.
//     The server's database stays in DIR/prefect.db: when the CLI starts sending another request,
//     `record` again re-records in minutes (the apply finds everything in place). --no-apply
//     records the plan of the server as it stands (e.g. a copy of a database with part of the
//     deployments: a plan of updates and creates); compare then checks each CLI says the same.
//   npx tsx scripts/bench-cpu.ts replay --dir /tmp/plan-1k [--runs 5] [--bin lib/path/bin.js]
//     serves DIR/recording.json from a local HTTP server (a request it did not record is a 599
//     and fails the run) and runs `plan` of DIR/project against it RUNS times, printing each run's
//     CPU and peak RSS and their medians. --bin picks the CLI (default: this checkout's
//     bin/prefect-gitops.js, which runs src/ through tsx; pass a packed copy's bin to measure the
//     compiled lib/ that npm users get).
//   npx tsx scripts/bench-cpu.ts compare --dirs /tmp/plan-1k,/tmp/plan-10k --refs main,. [--runs 5]
//     the before/after figure in one run: builds each git ref (`.` = this working tree, uncommitted
//     changes included) as npm users get it (its files in a scratch folder, its own `npm run build`,
//     src/ removed so bin/ runs lib/; node_modules linked from this checkout), then replays each
//     recorded plan with each build, runs interleaved (A B A B ...) so load changes hit both alike,
//     and prints the medians side by side with the load average. --bins a.js,b.js instead of --refs
//     compares CLIs already built. --cpu-prof DIR (replay) writes a V8 CPU profile of each run.
//   npx tsx scripts/bench-cpu.ts phases --dir /tmp/plan-1k
//     in this process (src/ through tsx), against the replay: CPU of each stage of a no-op plan
//     (load, validate, connect, live reads, plan, text render), to see where the time goes.
//   npx tsx scripts/bench-cpu.ts validate --dir /tmp/v10k [--runs 5] [--bin ...]
//     the same measurement for `validate` of a project made by bench-validate.ts --generate-only.
//   npx tsx scripts/bench-cpu.ts scale --dir /tmp/scale [--sizes 1000,2000,4000,8000]
//     in this process, for each N: load + validate, plan against an empty server (N creates), and
//     render it as text, PR comment and job summary; CPU per stage and per deployment, to show that
//     each grows linearly (per-deployment figures stay flat as N grows).
//
// The replay is a benchmark device only: integration tests always talk to a real server.
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadManifests } from '../src/manifests/load.js';
import { plan } from '../src/plan/plan.js';
import { NEWEST_CAPABILITIES } from '../src/prefect/capabilities.js';
import { PrefectClient } from '../src/prefect/client.js';
import { fetchLiveState } from '../src/reconcile.js';
import { renderPlanComment, renderPlanSummary } from '../src/render/markdown.js';
import { renderPlanText } from '../src/render/text.js';
import { validateProject } from '../src/validate/validate.js';
import { generateProject } from './bench-validate.js';
import { repoRoot } from './prefect-venv.js';
import { startPrefectServer } from './prefect-server.js';

interface Exchange {
  readonly method: string;
  readonly url: string;
  readonly body: string;
  readonly status: number;
  readonly contentType: string | null;
  readonly response: string;
}

interface RunFigures {
  readonly exitCode: number;
  readonly cpuSeconds: number;
  readonly userSeconds: number;
  readonly systemSeconds: number;
  readonly peakRssMiB: number;
  readonly wallSeconds: number;
}

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
    req.on('error', fail);
  });

const listen = (server: Server): Promise<string> =>
  new Promise((done) => server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    done(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
  }));

/** A proxy to `target` that keeps every exchange. */
async function recordingProxy(target: string): Promise<{ url: string; exchanges: Exchange[]; close: () => void }> {
  const exchanges: Exchange[] = [];
  const base = new URL(target);
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = req.url ?? '/';
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
      const upstream = await fetch(new URL(base.pathname.replace(/\/$/, '') + url.replace(/^\/api/, ''), base.origin), {
        method: req.method ?? 'GET',
        headers,
        ...(body && req.method !== 'GET' ? { body } : {}),
      });
      const response = await upstream.text();
      exchanges.push({ method: req.method ?? 'GET', url, body, status: upstream.status, contentType: upstream.headers.get('content-type'), response });
      res.writeHead(upstream.status, upstream.headers.get('content-type') ? { 'content-type': upstream.headers.get('content-type')! } : {});
      res.end(response);
    })().catch((error: unknown) => {
      res.writeHead(502);
      res.end(String(error));
    });
  });
  const url = `${await listen(server)}/api`;
  return { url, exchanges, close: () => server.close() };
}

/** The CSRF token request carries a random client id per process: any id matches. */
const sameClient = (url: string): string => url.replace(/([?&]client=)[^&]*/, '$1*');

/** Serves recorded exchanges by method, URL and body; anything else is a 599. */
async function replayServer(exchanges: readonly Exchange[]): Promise<{ url: string; unknown: string[]; close: () => void }> {
  const byRequest = new Map<string, Exchange[]>();
  for (const e of exchanges) {
    const key = `${e.method} ${sameClient(e.url)} ${e.body}`;
    byRequest.set(key, [...(byRequest.get(key) ?? []), e]);
  }
  const served = new Map<string, number>();
  const unknown: string[] = [];
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const key = `${req.method} ${sameClient(req.url ?? '/')} ${body}`;
      const answers = byRequest.get(key);
      if (!answers) {
        unknown.push(key.slice(0, 300));
        res.writeHead(599, { 'content-type': 'application/json' });
        res.end('{"detail":"not recorded"}');
        return;
      }
      // Repeated identical requests get the recorded answers in order.
      const n = served.get(key) ?? 0;
      served.set(key, n + 1);
      const e = answers[n % answers.length]!;
      res.writeHead(e.status, e.contentType ? { 'content-type': e.contentType } : {});
      res.end(e.response);
    });
  });
  const url = `${await listen(server)}/api`;
  return { url, unknown, close: () => server.close() };
}

/** Runs the CLI as a child process; its CPU and peak RSS as the kernel accounted them. */
function runCli(bin: string, args: readonly string[], env: Record<string, string>, nodeArgs: readonly string[] = []): Promise<RunFigures & { stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    // A tiny wrapper reports the child's rusage: node's own resourceUsage of a finished child is
    // not exposed, so the child reports its own at exit (whole process: startup included).
    const started = performance.now();
    const child = spawn(process.execPath, [...nodeArgs, '--import', `data:text/javascript,${encodeURIComponent(RUSAGE_AT_EXIT)}`, bin, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let usage = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (c: Buffer) => (usage += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      const wallSeconds = (performance.now() - started) / 1000;
      const u = JSON.parse(usage || '{"userCPUTime":0,"systemCPUTime":0,"maxRSS":0}') as { userCPUTime: number; systemCPUTime: number; maxRSS: number };
      done({
        exitCode: code ?? -1,
        userSeconds: u.userCPUTime / 1e6,
        systemSeconds: u.systemCPUTime / 1e6,
        cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6,
        peakRssMiB: u.maxRSS / 1024,
        wallSeconds,
        stdout,
        stderr,
      });
    });
  });
}

/** Written to fd 3 when the measured process exits: its own whole-process rusage. */
const RUSAGE_AT_EXIT = `import { writeSync } from 'node:fs';
process.on('exit', () => { try { const u = process.resourceUsage(); writeSync(3, JSON.stringify({ userCPUTime: u.userCPUTime, systemCPUTime: u.systemCPUTime, maxRSS: u.maxRSS })); } catch {} });`;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function report(label: string, runs: readonly RunFigures[]): void {
  for (const [i, r] of runs.entries()) {
    console.log(`${label} run ${i + 1}: exit ${r.exitCode}, CPU ${r.cpuSeconds.toFixed(2)} s (user ${r.userSeconds.toFixed(2)}, sys ${r.systemSeconds.toFixed(2)}), peak RSS ${r.peakRssMiB.toFixed(0)} MiB, wall ${r.wallSeconds.toFixed(2)} s`);
  }
  console.log(`${label} median: CPU ${median(runs.map((r) => r.cpuSeconds)).toFixed(2)} s, peak RSS ${median(runs.map((r) => r.peakRssMiB)).toFixed(0)} MiB, wall ${median(runs.map((r) => r.wallSeconds)).toFixed(2)} s (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
}

async function record(dir: string, count: number, concurrency: string, applyFirst = true): Promise<void> {
  const project = join(dir, 'project');
  await mkdir(dir, { recursive: true });
  await generateProject(project, count);
  // No scheduler or other services: at 10,000 scheduled deployments the scheduler's flow runs
  // would keep the (shared) machine busy for nothing; the plan reads only deployments and flows.
  // The server's database is kept in DIR: recording again (when a new version of the CLI sends
  // another request) reuses it, and the apply then only confirms what is there.
  const server = await startPrefectServer({ scheduler: false, services: false, env: { PREFECT_SERVER_DATABASE_CONNECTION_URL: `sqlite+aiosqlite:///${join(dir, 'prefect.db')}` } });
  try {
    const client = await PrefectClient.connect({ apiUrl: server.apiUrl });
    if (!(await client.readWorkPool('bench-pool'))) await client.createWorkPool({ name: 'bench-pool', type: 'process' });
    const bin = join(repoRoot, 'bin', 'prefect-gitops.js');
    const env = { PREFECT_API_URL: server.apiUrl, NO_COLOR: '1' };
    // A loaded SQLite server sheds load with 503s: apply again (it creates only what is missing).
    for (let attempt = 1; applyFirst; attempt++) {
      const applied = await runCli(bin, ['apply', project, '--auto-approve', '--concurrency', concurrency, '--no-lock'], env);
      console.log(`apply of ${count} (attempt ${attempt}): exit ${applied.exitCode}, wall ${applied.wallSeconds.toFixed(1)} s`);
      if (applied.exitCode === 0) break;
      if (attempt === 5) throw new Error(`apply failed: ${applied.stderr.slice(-2000)}`);
    }
    const proxy = await recordingProxy(server.apiUrl);
    const planned = await runCli(bin, ['plan', project, '--no-color'], { ...env, PREFECT_API_URL: proxy.url });
    proxy.close();
    if (planned.exitCode !== 0) throw new Error(`plan through the recorder failed (exit ${planned.exitCode}): ${planned.stderr.slice(-2000)}${planned.stdout.slice(-2000)}`);
    const summary = planned.stdout.trim().split('\n').at(-1) ?? '';
    await writeFile(join(dir, 'recording.json'), JSON.stringify({ deployments: count, prefect: server.apiUrl, summary, exchanges: proxy.exchanges }));
    console.log(`recorded ${proxy.exchanges.length} exchanges of a plan (${summary}) into ${join(dir, 'recording.json')}`);
  } finally {
    await server.stop();
  }
}

async function replay(dir: string, bin: string, runs: number, profileDir?: string): Promise<void> {
  const { exchanges } = JSON.parse(await readFile(join(dir, 'recording.json'), 'utf8')) as { exchanges: Exchange[] };
  const server = await replayServer(exchanges);
  try {
    const figures: RunFigures[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await runCli(bin, ['plan', join(dir, 'project'), '--no-color'], { PREFECT_API_URL: server.url, NO_COLOR: '1' }, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
      if (r.exitCode !== 0 || server.unknown.length > 0) throw new Error(`plan against the replay failed (exit ${r.exitCode}); unrecorded: ${server.unknown.slice(0, 3).join(' | ')}\n${r.stderr.slice(-2000)}`);
      if (i === 0) console.log(`plan says: ${r.stdout.trim().split('\n').at(-1)}`);
      figures.push(r);
    }
    report(`plan ${resolve(dir)} with ${bin}`, figures);
  } finally {
    server.close();
  }
}

/**
 * A scratch copy of the package at `ref` (`.`: this working tree) built as npm users get it: its
 * own `npm run build`, then src/ removed so bin/prefect-gitops.js runs lib/. Returns its bin.
 */
async function stage(ref: string, into: string): Promise<string> {
  await mkdir(into, { recursive: true });
  const files = ref === '.'
    ? execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot }).toString('utf8').split('\0').filter(Boolean)
    : undefined;
  const archive = files
    ? execFileSync('tar', ['-c', '--null', '--ignore-failed-read', '-T', '-', '-f', '-'], { cwd: repoRoot, input: files.join('\0'), maxBuffer: 1 << 30 })
    : execFileSync('git', ['archive', ref], { cwd: repoRoot, maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-f', '-'], { cwd: into, input: archive });
  await symlink(join(repoRoot, 'node_modules'), join(into, 'node_modules'));
  execFileSync('npm', ['run', '-s', 'build'], { cwd: into, stdio: ['ignore', 'ignore', 'inherit'] });
  await rm(join(into, 'src'), { recursive: true, force: true });
  return join(into, 'bin', 'prefect-gitops.js');
}

async function compare(dirs: readonly string[], bins: readonly { label: string; bin: string }[], runs: number): Promise<void> {
  const rows: string[] = [];
  for (const dir of dirs) {
    const { deployments, summary, exchanges } = JSON.parse(await readFile(join(dir, 'recording.json'), 'utf8')) as { deployments: number; summary?: string; exchanges: Exchange[] };
    const figures = new Map<string, RunFigures[]>(bins.map((b) => [b.label, []]));
    for (let i = 0; i < runs; i++) {
      for (const { label, bin } of bins) {
        // A fresh replay per run: repeated identical requests are answered in recorded order.
        const server = await replayServer(exchanges);
        try {
          const r = await runCli(bin, ['plan', join(dir, 'project'), '--no-color'], { PREFECT_API_URL: server.url, NO_COLOR: '1' });
          if (r.exitCode !== 0 || server.unknown.length > 0) throw new Error(`${label}: plan against the replay of ${dir} failed (exit ${r.exitCode}); unrecorded: ${server.unknown.slice(0, 3).join(' | ')}\n${r.stderr.slice(-2000)}`);
          // Every CLI must say what the recorded plan said (a no-op unless recorded with --no-apply).
          if (r.stdout.trim().split('\n').at(-1) !== (summary ?? 'No changes.') && !(summary === undefined && /No changes\./.test(r.stdout))) {
            throw new Error(`${label}: the plan of ${dir} is not the recorded one (${summary ?? 'no changes'}): ${r.stdout.slice(-500)}`);
          }
          figures.get(label)!.push(r);
          console.log(`${deployments} deployments, ${label}, run ${i + 1}: CPU ${r.cpuSeconds.toFixed(2)} s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB (load ${loadavg()[0]!.toFixed(2)})`);
        } finally {
          server.close();
        }
      }
    }
    for (const { label } of bins) {
      const f = figures.get(label)!;
      rows.push(`| ${deployments} | ${label} | ${median(f.map((r) => r.cpuSeconds)).toFixed(2)} s | ${median(f.map((r) => r.userSeconds)).toFixed(2)} / ${median(f.map((r) => r.systemSeconds)).toFixed(2)} | ${median(f.map((r) => r.peakRssMiB)).toFixed(0)} MiB | ${median(f.map((r) => r.wallSeconds)).toFixed(2)} s |`);
    }
  }
  console.log(`\nno-op plan, whole process, medians of ${runs} runs (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${navigatorCpus()}):`);
  console.log('| deployments | CLI | CPU | user / sys | peak RSS | wall |\n|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}

const navigatorCpus = (): string => `${availableParallelism()} CPUs, Node ${process.version}`;

async function phases(dir: string): Promise<void> {
  const { exchanges } = JSON.parse(await readFile(join(dir, 'recording.json'), 'utf8')) as { exchanges: Exchange[] };
  const server = await replayServer(exchanges);
  const stages: [string, number][] = [];
  let last = process.cpuUsage();
  const mark = (stage: string): void => {
    const used = process.cpuUsage(last);
    stages.push([stage, (used.user + used.system) / 1e6]);
    last = process.cpuUsage();
  };
  try {
    const project = await loadManifests(join(dir, 'project'), { env: {} });
    mark('load manifests');
    const validated = validateProject(project, { env: {} });
    mark('validate');
    const client = await PrefectClient.connect({ apiUrl: server.url });
    mark('connect');
    const live = await fetchLiveState(client, validated.deployments, validated.owner!);
    mark('live reads');
    const planned = plan(validated.deployments, live, {
      owner: validated.owner!,
      serverVersion: client.serverVersion,
      prune: true,
      maxDeletes: 10,
      maxDeleteRatio: 0.5,
      allowMassDelete: false,
      adoptAll: false,
      features: client.capabilities,
    });
    mark('plan');
    for (let i = 0; i < Number(process.env.PCP_PLAN_LOOPS ?? 0); i++) plan(validated.deployments, live, { owner: validated.owner!, serverVersion: client.serverVersion, prune: true, maxDeletes: 10, maxDeleteRatio: 0.5, allowMassDelete: false, adoptAll: false, features: client.capabilities });
    if (process.env.PCP_PLAN_LOOPS) mark(`plan x${process.env.PCP_PLAN_LOOPS}`);
    const text = renderPlanText(planned, { color: false, now: new Date() });
    mark('render text');
    if (server.unknown.length > 0 || !text.includes('No changes.')) throw new Error(`not a no-op plan: ${server.unknown.slice(0, 3).join(' | ')} ${text.slice(-300)}`);
  } finally {
    server.close();
  }
  for (const [stage, seconds] of stages) console.log(`${stage.padEnd(16)} ${seconds.toFixed(3)} s`);
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

async function validate(dir: string, bin: string, runs: number): Promise<void> {
  const figures: RunFigures[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await runCli(bin, ['validate', dir], { NO_COLOR: '1' });
    if (r.exitCode !== 0) throw new Error(`validate failed (exit ${r.exitCode}): ${r.stdout.slice(-1000)}${r.stderr.slice(-1000)}`);
    figures.push(r);
  }
  report(`validate ${resolve(dir)} with ${bin}`, figures);
}

/** CPU seconds of this process spent in `f`. */
function cpuOf<T>(f: () => T): [T, number] {
  const before = process.cpuUsage();
  const result = f();
  const used = process.cpuUsage(before);
  return [result, (used.user + used.system) / 1e6];
}

async function scale(dir: string, sizes: readonly number[]): Promise<void> {
  const now = new Date('2026-11-28T12:00:00Z');
  console.log('N | load+validate s | plan s | text s | comment s | summary s | per deployment (ms): validate / plan / text / comment / summary');
  for (const n of sizes) {
    const project = join(dir, String(n));
    await generateProject(project, n);
    const before = process.cpuUsage();
    const loaded = await loadManifests(project, { env: {} });
    const [validated] = cpuOf(() => validateProject(loaded, { env: {} }));
    const used = process.cpuUsage(before);
    const validateSeconds = (used.user + used.system) / 1e6;
    const [planned, planSeconds] = cpuOf(() =>
      plan(validated.deployments, { deployments: new Map() }, {
        owner: validated.owner ?? 'bench',
        serverVersion: '3.8.8',
        prune: true,
        maxDeletes: n,
        maxDeleteRatio: 1,
        allowMassDelete: false,
        adoptAll: false,
        features: NEWEST_CAPABILITIES,
      }),
    );
    const [, textSeconds] = cpuOf(() => renderPlanText(planned, { color: false, now }));
    const [, commentSeconds] = cpuOf(() => renderPlanComment(planned, { now }));
    const [, summarySeconds] = cpuOf(() => renderPlanSummary(planned, { now }));
    const per = [validateSeconds, planSeconds, textSeconds, commentSeconds, summarySeconds].map((s) => ((s * 1000) / n).toFixed(3)).join(' / ');
    console.log(`${n} | ${validateSeconds.toFixed(2)} | ${planSeconds.toFixed(2)} | ${textSeconds.toFixed(2)} | ${commentSeconds.toFixed(2)} | ${summarySeconds.toFixed(2)} | ${per}`);
  }
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      deployments: { type: 'string', default: '1000' },
      dir: { type: 'string' },
      runs: { type: 'string', default: '5' },
      bin: { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      sizes: { type: 'string', default: '1000,2000,4000,8000' },
      'cpu-prof': { type: 'string' },
      'no-apply': { type: 'boolean' },
      dirs: { type: 'string' },
      refs: { type: 'string' },
      bins: { type: 'string' },
    },
    strict: true,
  });
  const mode = positionals[0];
  if (mode === 'compare') {
    if (!values.dirs || (!values.refs && !values.bins)) throw new Error('usage: tsx scripts/bench-cpu.ts compare --dirs DIR,DIR (recorded) --refs REF,REF (. = working tree) | --bins BIN,BIN [--runs R]');
    const dirs = values.dirs.split(',').map((d) => resolve(d));
    let bins = (values.bins ?? '').split(',').filter(Boolean).map((b) => ({ label: b, bin: resolve(b) }));
    const scratch = await mkdtemp(join(tmpdir(), 'bench-cpu-builds-'));
    try {
      if (values.refs) {
        bins = [];
        for (const [i, ref] of values.refs.split(',').entries()) {
          const commit = ref === '.' ? 'working tree' : execFileSync('git', ['rev-parse', '--short', ref], { cwd: repoRoot }).toString().trim();
          bins.push({ label: `${ref} (${commit})`, bin: await stage(ref, join(scratch, String(i))) });
        }
      }
      await compare(dirs, bins, Number(values.runs));
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    return;
  }
  if (!values.dir || !['record', 'replay', 'validate', 'scale', 'phases'].includes(mode ?? '')) {
    throw new Error('usage: tsx scripts/bench-cpu.ts record|replay|validate|scale|compare --dir DIR [--deployments N] [--runs R] [--bin path/to/bin/prefect-gitops.js] [--sizes 1000,2000]');
  }
  const dir = resolve(values.dir);
  const bin = resolve(values.bin ?? join(repoRoot, 'bin', 'prefect-gitops.js'));
  if (mode === 'record') await record(dir, Number(values.deployments), values.concurrency, !values['no-apply']);
  else if (mode === 'replay') await replay(dir, bin, Number(values.runs), values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined);
  else if (mode === 'validate') await validate(dir, bin, Number(values.runs));
  else if (mode === 'phases') await phases(dir);
  else await scale(dir, values.sizes.split(',').map(Number));
}

await main();
