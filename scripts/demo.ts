// `npm run demo`: prefect-gitops end to end against a throwaway local Prefect server.
// Starts the server (installing the pinned Prefect venv on first use), applies examples/,
// shows that a second plan is empty, then edits one manifest and removes another in a copy and
// applies that with prune. Every command shown is the real CLI, run in-process.
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { main } from '../src/cli/main.js';
import { startPrefectServer, type PrefectServerHandle } from './prefect-server.js';
import { repoRoot } from './prefect-venv.js';

const bold = (t: string): string => (process.stdout.isTTY && !process.env.NO_COLOR ? `\u001b[1m${t}\u001b[0m` : t);

function step(title: string, explanation: string): void {
  process.stdout.write(`\n${bold(`== ${title}`)}\n${explanation}\n\n`);
}

async function cli(args: string[], env: Record<string, string>): Promise<number> {
  process.stdout.write(`$ prefect-gitops ${args.join(' ')}\n`);
  const code = await main(args, {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: { ...process.env, ...env },
    cwd: repoRoot,
    isTty: Boolean(process.stdout.isTTY),
  });
  process.stdout.write(`(exit code ${code})\n`);
  return code;
}

async function run(): Promise<void> {
  let server: PrefectServerHandle | undefined;
  const work = join(repoRoot, '.demo-work');
  const stop = async (): Promise<void> => {
    await server?.stop();
    server = undefined;
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    step('1. Start a local Prefect server', 'A throwaway server on 127.0.0.1 with its own temporary PREFECT_HOME (SQLite).');
    server = await startPrefectServer({ scheduler: false });
    process.stdout.write(`Prefect ${server.version} is up at ${server.apiUrl}\n`);
    const env = { PREFECT_API_URL: server.apiUrl, EXAMPLES_DIR: join(repoRoot, 'examples') };

    step('2. Validate the manifests (offline)', 'Every file is checked before anything talks to Prefect.');
    await cli(['validate', 'examples'], env);

    step('3. Plan against the empty server', 'Nothing exists yet, so every declared deployment, the work pool and its queues are creates. With --detailed-exitcode, exit code 2 means "there are changes" (0: none, 1: error), for CI.');
    await cli(['plan', 'examples', '--detailed-exitcode'], env);

    step('4. Apply', 'Creates the work pool "local-process" and its queues that examples/workspace/ declares (recorded in owner "acme-data"\'s inventory), then the deployments, each marked with the ownership label of owner "acme-data".');
    await cli(['apply', 'examples'], env);

    step('5. Plan again', 'The server now matches git: no changes, and an apply now would send no write at all.');
    await cli(['plan', 'examples', '--detailed-exitcode'], env);

    step('6. Change the manifests', 'In a copy of examples/: pause the heartbeat and move it to every 10 minutes, and delete the finance report manifest.');
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    const copy = join(work, 'examples');
    await cp(join(repoRoot, 'examples'), copy, { recursive: true });
    const ops = join(copy, 'deployments', 'ops.yaml');
    const text = await readFile(ops, 'utf8');
    await writeFile(ops, text.replace(/^(\s*- interval:\s*)300\b/m, '$1600').replace(/^name: heartbeat$/m, 'name: heartbeat\npaused: true'));
    await rm(join(copy, 'deployments', 'finance.yaml'));
    process.stdout.write(`edited  ${relative(repoRoot, ops)}\nremoved ${relative(repoRoot, join(copy, 'deployments', 'finance.yaml'))}\n`);

    step('7. Plan the change', 'One update in place (only the changed fields; the schedule keeps its id) and one delete: prune is enabled in prefect-gitops.yaml and only ever deletes deployments this owner created.');
    await cli(['plan', relative(repoRoot, copy)], env);

    step('8. Apply with prune', 'Updates first, deletes last.');
    await cli(['apply', relative(repoRoot, copy)], env);

    step('9. Plan once more', 'Converged again.');
    await cli(['plan', relative(repoRoot, copy), '--detailed-exitcode'], env);
  } finally {
    step('10. Stop the server', 'The server, its children and its temporary home are removed.');
    await stop();
    await rm(work, { recursive: true, force: true });
    process.stdout.write('Done.\n');
  }
}

await run();
