import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { askPythonForFlows, needsPython, pythonFlowKey } from '../../src/manifests/python-flows.js';

/** Issue 9 A12: the opt-in `--python` bridge never throws and says why it failed. */
function fakePython(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fake-python-'));
  const file = join(dir, 'python');
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

const request = [{ base: '', entrypoint: 'flows/a.py:a' }];

describe('asking Python for flows', () => {
  it('unreadable output, a time-out, a missing interpreter and a Python without Prefect are errors per flow', async () => {
    const key = pythonFlowKey('', 'flows/a.py:a');
    const garbage = await askPythonForFlows(fakePython('echo not json'), tmpdir(), request);
    expect(garbage.get(key)).toEqual({ error: expect.stringContaining('did not print JSON (its last line: "not json")') });
    const slow = await askPythonForFlows(fakePython('sleep 5'), tmpdir(), request, { timeoutMs: 300 });
    expect(slow.get(key)).toEqual({ error: expect.stringContaining('did not answer within 0.3s') });
    const missing = await askPythonForFlows('/nonexistent/python', tmpdir(), request);
    expect(missing.get(key)).toEqual({ error: expect.stringContaining('ENOENT') });
    const noPrefect = await askPythonForFlows(fakePython(`cat >/dev/null; echo '{"__fatal__": "cannot import prefect: No module named prefect"}'`), tmpdir(), request);
    expect(noPrefect.get(key)).toEqual({ error: expect.stringContaining('cannot import prefect') });
  });

  it('a Python that exits without reading its input is an error result, not an unhandled EPIPE', async () => {
    // More input than a pipe buffers (64 KiB), so the write is still pending when the pipe closes.
    const many = Array.from({ length: 3000 }, (_, i) => ({ base: '', entrypoint: `flows/some/long/path/to/flow_${i}.py:the_flow_function_${i}` }));
    const results = await askPythonForFlows(fakePython('exit 3'), tmpdir(), many);
    expect(results.size).toBe(many.length);
    expect(results.get(pythonFlowKey('', many[0]!.entrypoint))).toEqual({ error: expect.stringContaining('failed') });
  });

  it('takes the last line as the answer (flow modules may print) and checks its shape', async () => {
    const key = pythonFlowKey('', 'flows/a.py:a');
    const answer = JSON.stringify({ [key]: { name: 'a', description: null, parameterSchema: { type: 'object', properties: {} } } });
    const ok = await askPythonForFlows(fakePython(`cat >/dev/null; echo importing...; echo '${answer}'`), tmpdir(), request);
    expect(ok.get(key)).toEqual({ name: 'a', description: null, parameterSchema: { type: 'object', properties: {} } });
    const wrong = await askPythonForFlows(fakePython(`cat >/dev/null; echo '{"x": 1}'`), tmpdir(), request);
    expect(wrong.get(key)).toEqual({ error: expect.stringContaining('no usable answer') });
  });

  it('is asked only where static reading cannot resolve the flow', () => {
    const read = (files: Record<string, string>) => (p: string) => files[p] ?? null;
    expect(needsPython('a.py:f', [''], read({ 'a.py': 'from prefect import flow\n@flow\ndef f():\n    pass\n' }))).toBe(false);
    expect(needsPython('a.py:f', [''], read({ 'a.py': 'from prefect import flow\n@flow(name=NAME)\ndef f():\n    pass\n' }))).toBe(true);
    expect(needsPython('a.py:f', [''], read({ 'a.py': 'f = make_flow()\n' }))).toBe(true);
    expect(needsPython('a.py:f', [''], read({}))).toBe(true);
  });
});
