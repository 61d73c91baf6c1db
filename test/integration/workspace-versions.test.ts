// The variable kind and the owner's inventory on every Prefect version of the matrix
// (PREFECT_GITOPS_PREFECT_VERSION=2.20.27 / 3.1.15 npx vitest run test/integration/workspace-versions.test.ts):
// string variables work everywhere; what a version cannot hold is a located error at plan time,
// with nothing written.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ValidationFailedError } from '../../src/errors.js';
import { capabilitiesFor } from '../../src/prefect/capabilities.js';
import { api } from '../helpers/prefect.js';
import { applyProject, makeProject, planProject, type Project } from '../helpers/gitops.js';

const varName = (prefix: string): string => `${prefix}_${randomBytes(4).toString('hex')}`;

async function serverVersion(): Promise<string> {
  return String(await api<string>('GET', '/admin/version'));
}

async function writeObjects(project: Project, docs: Record<string, unknown>[]): Promise<void> {
  await project.write([]);
  await mkdir(join(project.dir, 'workspace'), { recursive: true });
  await writeFile(join(project.dir, 'workspace', 'vars.yaml'), docs.map((d) => stringify(d)).join('---\n'));
}

describe('variables on this server version', () => {
  it('string variables: created, planned empty, re-applied with 0 writes, pruned', async () => {
    const project = await makeProject('wsver');
    const a = varName('a');
    const b = varName('b');
    await writeObjects(project, [
      { kind: 'variable', name: a, value: 'one', tags: ['t'] },
      { kind: 'variable', name: b, value: 'two' },
    ]);
    const first = await applyProject(project.dir);
    expect(first.result.results.filter((r) => r.status !== 'ok')).toEqual([]);
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);
    expect((await applyProject(project.dir)).writes).toBe(0);
    await writeObjects(project, [{ kind: 'variable', name: a, value: 'one', tags: ['t'] }]);
    const pruned = await applyProject(project.dir);
    expect(pruned.plan.workspace?.actions.map((x) => `${x.action} ${x.key}`)).toEqual([`delete ${b}`]);
    expect(pruned.result.ok).toBe(true);
    expect((await planProject(project.dir)).plan.workspace?.actions).toEqual([]);
  });

  it('a JSON value (Prefect 2) or a dashed name (before 3.4.1) is refused at plan time at its line, nothing written', async () => {
    const version = await serverVersion();
    const features = capabilitiesFor(version);
    const v2 = version.startsWith('2.');
    const project = await makeProject('wsver-cap');
    const json = varName('json');
    const dashed = `dashed-${randomBytes(4).toString('hex')}`;
    await writeObjects(project, [
      { kind: 'variable', name: json, value: { a: 1 } },
      { kind: 'variable', name: dashed, value: 'x' },
    ]);
    if (!v2 && features.variableNameDashes) {
      expect((await applyProject(project.dir)).result.ok).toBe(true);
      return;
    }
    const error = await planProject(project.dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationFailedError);
    const issues = (error as ValidationFailedError).issues.map((i) => `${i.file.split('/').pop()}:${i.line}: ${i.message}`);
    if (v2) expect(issues).toContain(`vars.yaml:4: variable "${json}": Prefect ${version} stores only strings as variable values (JSON values need Prefect 3); quote the value`);
    expect(issues.some((i) => i.startsWith('vars.yaml:7:') && i.includes(`"${dashed}" has a dash`))).toBe(true);
    const names = await api<{ name: string }[]>('POST', '/variables/filter', { variables: { name: { any_: [json, dashed] } } });
    expect(names).toEqual([]);
  });
});
