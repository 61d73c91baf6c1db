import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const repo = resolve(import.meta.dirname, '../..');

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

const docs = ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md'];

describe('documentation', () => {
  it.each(docs)('%s links only to files inside the repository that exist', async (doc) => {
    const text = await readFile(join(repo, doc), 'utf8');
    const targets = [...text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/i.test(t));
    for (const target of targets) {
      const path = resolve(repo, dirname(doc), target);
      expect(relative(repo, path).startsWith('..'), `${doc} links outside the repository: ${target}`).toBe(false);
      expect(existsSync(path), `${doc} links to a missing file: ${target}`).toBe(true);
    }
    expect(text, `${doc} points at a path outside the repository`).not.toMatch(/`\.\.\//);
  });

  it.each(docs)('%s links only to headings that exist', async (doc) => {
    const text = await readFile(join(repo, doc), 'utf8');
    const slug = (heading: string): string => heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
    const anchors = new Set([...text.matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1]!)));
    for (const [, anchor] of text.matchAll(/\]\(#([^)]+)\)/g)) expect(anchors, `${doc}: #${anchor}`).toContain(anchor);
  });

  it('no document or example names the nonexistent --env flag', async () => {
    const files = [...docs.map((d) => join(repo, d)), ...(await filesUnder(join(repo, 'examples')))].filter((f) => /\.(md|ya?ml)$/.test(f));
    for (const file of files) expect(await readFile(file, 'utf8'), relative(repo, file)).not.toMatch(/--env\b(?!ironment)/);
  });

  it('every YAML example in the docs parses', async () => {
    for (const doc of docs) {
      const text = await readFile(join(repo, doc), 'utf8');
      for (const [, block] of text.matchAll(/```ya?ml\n([\s\S]*?)```/g)) expect(() => parseAllDocuments(block!).forEach((d) => { if (d.errors.length) throw d.errors[0]; }), `${doc}:\n${block}`).not.toThrow();
    }
  });

  it('the README leads with install and keeps the two set-up commands', async () => {
    const text = await readFile(join(repo, 'README.md'), 'utf8');
    const headings = [...text.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(headings.slice(0, 2)).toEqual(['Install', 'Quick start']);
    expect(text).toContain('npm ci && npm run demo');
    expect(text).toContain('npm ci && npm test');
    for (const section of ['CI setup', 'Coming from `prefect deploy`', 'Compared with the Terraform provider', 'Troubleshooting', 'Releases and versions']) expect(headings).toContain(section);
  });
});
