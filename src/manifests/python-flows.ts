import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { lookupFlow } from './entrypoint.js';
import { locateFlow, type SourceReader } from './flow-source.js';

/**
 * Opt-in (`--python PATH`): where a flow cannot be read statically (a computed name, a flow made
 * at import time, a file outside what can be followed), ask the user's own Prefect installation,
 * as `prefect deploy` does when it loads the flow: `load_flow_from_entrypoint` from the working
 * directory, then the flow's name, description and parameter schema. One Python process for all of
 * them, a time limit, output read as JSON and checked; the flow code runs, so never by default.
 */

export interface PythonFlow {
  readonly name: string;
  readonly description: string | null;
  readonly parameterSchema: Record<string, unknown>;
}

export type PythonFlowResult = PythonFlow | { readonly error: string };

/** Key of a flow asked for: the working directory (relative to the project root) and the entrypoint. */
export const pythonFlowKey = (base: string, entrypoint: string): string => `${base}\u0000${entrypoint.trim()}`;

/**
 * Whether static reading cannot give this entrypoint's flow name: no file found, no function of
 * that name, or a name computed at run time.
 */
export function needsPython(entrypoint: string, bases: readonly string[], read: SourceReader): boolean {
  const flow = locateFlow(entrypoint, bases, read);
  if (flow.kind !== 'found') return flow.kind === 'missing' || flow.kind === 'pending';
  if (flow.assigned) return flow.assigned.name !== undefined && flow.assigned.name.literal === undefined;
  const found = lookupFlow(flow.source, flow.func);
  return found.kind === 'no-function' || found.kind === 'dynamic-name';
}

const SCRIPT = String.raw`
import json, os, sys
requests = json.loads(sys.stdin.read())
out = {}
try:
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.callables import parameter_schema
except Exception as exc:
    print(json.dumps({"__fatal__": "cannot import prefect: %s" % exc}))
    sys.exit(0)
start = os.getcwd()
for item in requests:
    key, directory, entrypoint = item["key"], item["dir"], item["entrypoint"]
    try:
        os.chdir(directory)
        if directory not in sys.path:
            sys.path.insert(0, directory)
        flow = load_flow_from_entrypoint(entrypoint, use_placeholder_flow=False)
        schema = parameter_schema(flow).model_dump_for_openapi()
        # prefect deploy stores the schema without an empty "definitions"
        if not schema.get("definitions"):
            schema.pop("definitions", None)
        out[key] = {"name": flow.name, "description": flow.description, "parameterSchema": schema}
    except BaseException as exc:
        out[key] = {"error": ("%s: %s" % (type(exc).__name__, exc)).splitlines()[0][:300]}
    finally:
        os.chdir(start)
print(json.dumps(out))
`;

export interface PythonFlowRequest {
  /** Working directory relative to the project root. */
  readonly base: string;
  readonly entrypoint: string;
}

/**
 * Runs `python` once for every request. Never throws: a Python that cannot be run, a time-out or
 * unreadable output becomes an error result for each request, with the reason.
 */
export async function askPythonForFlows(python: string, projectRoot: string, requests: readonly PythonFlowRequest[], options: { timeoutMs?: number } = {}): Promise<Map<string, PythonFlowResult>> {
  const results = new Map<string, PythonFlowResult>();
  if (requests.length === 0) return results;
  const payload = requests.map((r) => ({ key: pythonFlowKey(r.base, r.entrypoint), dir: resolve(projectRoot, r.base), entrypoint: r.entrypoint.trim() }));
  const failAll = (error: string): Map<string, PythonFlowResult> => {
    for (const p of payload) results.set(p.key, { error });
    return results;
  };
  const timeoutMs = options.timeoutMs ?? 60_000;
  let stdout: string;
  try {
    stdout = await new Promise<string>((done, fail) => {
      const child = execFile(python, ['-c', SCRIPT], { cwd: projectRoot, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } }, (error, out, err) => {
        if (error) fail(new Error(error.killed ? `it did not answer within ${timeoutMs / 1000}s` : `${error.message.split('\n')[0]}${err ? `: ${err.trim().split('\n').pop()}` : ''}`));
        else done(out);
      });
      // A Python that exits before reading its input (missing interpreter, a crash at start-up)
      // closes the pipe: the exit status above reports that, so the write error (EPIPE) is not news.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(JSON.stringify(payload));
    });
  } catch (error) {
    return failAll(`running ${python} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.trim().split('\n').pop() ?? '');
  } catch {
    return failAll(`${python} did not print JSON (its last line: ${JSON.stringify(stdout.trim().split('\n').pop()?.slice(0, 200) ?? '')})`);
  }
  if (!parsed || typeof parsed !== 'object') return failAll(`${python} printed unexpected output`);
  const record = parsed as Record<string, unknown>;
  if (typeof record.__fatal__ === 'string') return failAll(`${python}: ${record.__fatal__}`);
  for (const p of payload) {
    const value = record[p.key] as Record<string, unknown> | undefined;
    if (value && typeof value.error === 'string') results.set(p.key, { error: value.error });
    else if (value && typeof value.name === 'string' && value.parameterSchema && typeof value.parameterSchema === 'object' && (value.description === null || typeof value.description === 'string')) {
      results.set(p.key, { name: value.name, description: value.description, parameterSchema: value.parameterSchema as Record<string, unknown> });
    } else results.set(p.key, { error: `${python} gave no usable answer for ${p.entrypoint}` });
  }
  return results;
}
