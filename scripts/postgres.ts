// A throwaway PostgreSQL cluster for the benchmark (and, later, tests): its own data directory
// under the temp dir, its own free port on 127.0.0.1, trust auth for one role, stopped and
// removed by stop(). Uses the server binaries of Debian's `postgresql` package
// (/usr/lib/postgresql/<major>/bin); with `install: true` it installs that package with apt-get
// when they are missing (root only). As root, the cluster runs as the `postgres` system user
// (PostgreSQL refuses to run as root).
//
// CLI: `npx tsx scripts/postgres.ts [--install]` starts one, prints its URLs, stops on Ctrl-C.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

const PG_ROOT = '/usr/lib/postgresql';
/** The role and database the cluster is created with; trust auth on 127.0.0.1 only. */
const ROLE = 'prefect';
const DATABASE = 'prefect';
/** The system user that runs the cluster when we are root. */
const SYSTEM_USER = 'postgres';

export interface PostgresHandle {
  /** e.g. postgresql+asyncpg://prefect@127.0.0.1:41234/prefect, for PREFECT_API_DATABASE_CONNECTION_URL. */
  readonly asyncpgUrl: string;
  /** e.g. postgresql://prefect@127.0.0.1:41234/prefect, for psql. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The server's version line, e.g. `PostgreSQL 15.18`. */
  readonly version: string;
  /** Stops the cluster (fast shutdown) and removes its data directory. Idempotent. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Install Debian's `postgresql` package with apt-get when the server binaries are missing. */
  install?: boolean;
  /** Receives progress lines. */
  log?: (line: string) => void;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
}

/** The newest /usr/lib/postgresql/<major>/bin that has initdb, pg_ctl and postgres; undefined when none. */
export function findPostgresBin(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const majors = readdirSync(PG_ROOT)
    .filter((d) => /^\d+$/.test(d))
    .sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const bin = join(PG_ROOT, major, 'bin');
    if (['initdb', 'pg_ctl', 'postgres'].every((tool) => existsSync(join(bin, tool)))) return bin;
  }
  return undefined;
}

/** Installs Debian's `postgresql` package (server binaries) with apt-get. Root only. */
export async function installPostgres(log: (line: string) => void = () => {}): Promise<string> {
  if (process.getuid?.() !== 0) {
    throw new Error('PostgreSQL server binaries are missing and installing them needs root: apt-get install postgresql');
  }
  log('installing Debian package postgresql (apt-get)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env, maxBuffer: 64 * 1024 * 1024 });
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'postgresql'], { env, maxBuffer: 64 * 1024 * 1024 });
  const bin = findPostgresBin();
  if (!bin) throw new Error(`apt-get installed postgresql but no server binaries were found under ${PG_ROOT}/*/bin`);
  return bin;
}

/**
 * Creates and starts a fresh cluster on a free port and creates the `prefect` database. Cleans up
 * after itself when any step fails. The cluster is a daemon (pg_ctl): callers must stop() it,
 * also on errors and signals; a process exit handler stops it as a last resort.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresHandle> {
  const log = options.log ?? (() => {});
  let bin = findPostgresBin();
  if (!bin) {
    if (!options.install) throw new Error(`no PostgreSQL server binaries under ${PG_ROOT}/*/bin; pass --install-postgres (or install Debian's postgresql package)`);
    bin = await installPostgres(log);
  }
  const asRoot = process.getuid?.() === 0;
  const dataDir = await mkdtemp(join(tmpdir(), 'prefect-gitops-pg-'));
  if (asRoot) {
    const { uid, gid } = systemUser(SYSTEM_USER);
    await chown(dataDir, uid, gid);
  }
  // Run as the cluster's user: PostgreSQL refuses to run as root.
  const pg = (tool: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', SYSTEM_USER, '--', join(bin, tool), ...args]] : [join(bin, tool), args];
    return run(file, argv, { cwd: dataDir, maxBuffer: 16 * 1024 * 1024 });
  };

  const pgdata = join(dataDir, 'data');
  let started = false;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      process.off('exit', stopSync);
      if (started) {
        await pg('pg_ctl', ['stop', '-D', pgdata, '-m', 'fast', '-w', '-t', '30']).catch(() =>
          pg('pg_ctl', ['stop', '-D', pgdata, '-m', 'immediate', '-w']).catch(() => undefined),
        );
      }
      await rm(dataDir, { recursive: true, force: true });
    })());
  // Last resort when the caller never gets to stop(): an immediate shutdown, synchronously.
  const stopSync = (): void => {
    if (started) {
      const args = ['stop', '-D', pgdata, '-m', 'immediate', '-w'];
      if (asRoot) spawnSync('runuser', ['-u', SYSTEM_USER, '--', join(bin, 'pg_ctl'), ...args], { stdio: 'ignore' });
      else spawnSync(join(bin, 'pg_ctl'), args, { stdio: 'ignore' });
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.on('exit', stopSync);

  try {
    log(`initdb ${pgdata} (${bin})`);
    await pg('initdb', ['-D', pgdata, '-U', ROLE, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const settings: Record<string, string> = {
        port: String(port),
        listen_addresses: '127.0.0.1',
        unix_socket_directories: dataDir,
        max_connections: '200',
        ...options.settings,
      };
      const serverArgs = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(' ');
      started = true;
      try {
        await pg('pg_ctl', ['start', '-D', pgdata, '-l', join(dataDir, 'server.log'), '-w', '-t', '60', '-o', serverArgs]);
      } catch (error) {
        started = false;
        // Someone took the port between our probe and the bind: another port.
        if (attempt < 3) continue;
        throw error;
      }
      const psql = (db: string, sql: string) => pg('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', ROLE, '-d', db, '-v', 'ON_ERROR_STOP=1', '-tAc', sql]);
      await psql('postgres', `CREATE DATABASE ${DATABASE}`);
      const { stdout } = await psql(DATABASE, 'SHOW server_version');
      log(`PostgreSQL ${stdout.trim()} on 127.0.0.1:${port}`);
      return {
        asyncpgUrl: `postgresql+asyncpg://${ROLE}@127.0.0.1:${port}/${DATABASE}`,
        url: `postgresql://${ROLE}@127.0.0.1:${port}/${DATABASE}`,
        port,
        dataDir,
        version: `PostgreSQL ${stdout.trim()}`,
        stop,
      };
    }
  } catch (error) {
    await stop();
    throw error;
  }
}

function systemUser(name: string): { uid: number; gid: number } {
  const result = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gidResult = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  const uid = Number(result.stdout.trim());
  const gid = Number(gidResult.stdout.trim());
  if (result.status !== 0 || !Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error(`running PostgreSQL as root needs the system user "${name}" (created by Debian's postgresql package); not found (we are ${userInfo().username})`);
  }
  return { uid, gid };
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

// --- CLI ---------------------------------------------------------------------------------

async function main(argv: string[]): Promise<void> {
  const pg = await startPostgres({ install: argv.includes('--install'), log: (line) => console.error(line) });
  console.log(`export PREFECT_API_DATABASE_CONNECTION_URL=${pg.asyncpgUrl}`);
  console.error(`${pg.version} at ${pg.url} (data ${pg.dataDir}); Ctrl-C stops and removes it`);
  await new Promise<void>((resolvePromise) => {
    process.once('SIGINT', resolvePromise);
    process.once('SIGTERM', resolvePromise);
  });
  await pg.stop();
  console.error('postgres stopped and removed');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
