import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseYamlText, parseYamlTextWithYaml, type ParsedFile, type PathSegment, type SourceDocument } from '../../src/manifests/source.js';
import { parseYamlFast } from '../../src/manifests/yaml-fast.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pathsOf(value: unknown, prefix: PathSegment[] = [], out: PathSegment[][] = []): PathSegment[][] {
  out.push(prefix, [...prefix, 'zz'], [...prefix, 7]);
  if (Array.isArray(value)) value.forEach((item, i) => pathsOf(item, [...prefix, i], out));
  else if (value && typeof value === 'object') for (const [key, child] of Object.entries(value)) pathsOf(child, [...prefix, key], out);
  return out;
}
const positions = (doc: SourceDocument): string[] => [
  `start ${JSON.stringify(doc.start)}`,
  ...pathsOf(doc.value).flatMap((p) => [`${JSON.stringify(p)} ${JSON.stringify(doc.locate(p))}`, `${JSON.stringify(p)} key ${JSON.stringify(doc.locate(p, { key: true }))}`]),
];
const summary = (parsed: ParsedFile): unknown => ({
  issues: parsed.issues,
  documents: parsed.documents.map((d) => ({ index: d.index, json: JSON.stringify(d.value), value: d.value, positions: positions(d) })),
});

const SCALARS = ['a', 'b c', 'yes', 'No', 'on', 'null', '~', 'Null', 'true', 'True', 'TRUE', 'false', '0', '-0', '007', '0o17', '0x1F', '1e3', '1.5', '.5', '-.inf', '.NaN', '+1', '1_000', '2024-01-01', '12:30', '"q"', "'s'", "'it''s'", '"a#b"', 'a #c', 'a#b', '"x: y"', 'x: y', '[]', '{}', '[a, b]', '{a: 1, b: [2]}', '[a, [b, c]]', '""', "''", '"\\n"', '|', '>', '|-', '>+', '&a x', '*a', '!!str 1', '<<', '?', '-', '@x', '`x', '%x', 'a:b', 'http://x/y', '{{ env.X }}', '"{{ x }}"', ' ', '0 6 * * 1', '-1', '1.0e+3', '0b1', 'é', '"\\u00e9"', ':', 'a: ', '#'];
const KEYS = ['name', 'a', 'b', 'tags', 'parameters', 'schedules', '"q k"', "'s k'", 'x y', '1', 'true', 'null', '-k', 'k:', '? k', 'on', '<<', 'é'];

function generate(next: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const lines: string[] = [];
  const n = 1 + Math.floor(next() * 12);
  let indent = 0;
  for (let i = 0; i < n; i++) {
    const r = next();
    const pad = ' '.repeat(indent);
    if (r < 0.35) lines.push(`${pad}${pick(KEYS)}: ${pick(SCALARS)}`);
    else if (r < 0.5) {
      lines.push(`${pad}${pick(KEYS)}:`);
      indent += pick([0, 1, 2, 2, 2, 4]);
    } else if (r < 0.65) lines.push(`${pad}- ${pick(SCALARS)}`);
    else if (r < 0.72) lines.push(`${pad}- ${pick(KEYS)}: ${pick(SCALARS)}`);
    else if (r < 0.77) {
      lines.push(`${pad}- ${pick(KEYS)}:`);
      indent += pick([2, 4]);
    } else if (r < 0.8) lines.push(pick(['---', '# c', '', '...', '  # c', '--- # c']));
    else if (r < 0.85) lines.push(`${pad}  ${pick(SCALARS)}`);
    else if (r < 0.9) indent = Math.max(0, indent - pick([1, 2, 4]));
    else lines.push(`${pad}${pick(KEYS)}: ${pick(SCALARS)} # ${pick(SCALARS)}`);
  }
  return lines.join('\n') + pick(['\n', '', '\n\n']);
}

function mutate(text: string, next: () => number): string {
  const chars = [' ', '\n', ':', '-', '#', '"', "'", '[', ']', '{', '}', ',', '|', '>', '&', '*', '!', '?', '\t', 'x', '0'];
  let out = text;
  const edits = 1 + Math.floor(next() * 3);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(next() * (out.length + 1));
    const r = next();
    if (r < 0.4) out = out.slice(0, at) + out.slice(at + 1);
    else out = out.slice(0, at) + chars[Math.floor(next() * chars.length)]! + out.slice(at);
  }
  return out;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules') return [];
    return statSync(path).isDirectory() ? yamlFiles(path) : /\.ya?ml$/i.test(name) ? [path] : [];
  });
}

function disagreement(text: string): string | undefined {
  if (parseYamlFast(text) === undefined) return undefined;
  const reference = parseYamlTextWithYaml(text, 'f.yaml');
  if (reference.issues.length > 0) return `yaml reports ${JSON.stringify(reference.issues)}`;
  const a = JSON.stringify(summary(parseYamlText(text, 'f.yaml')));
  const b = JSON.stringify(summary(reference));
  return a === b ? undefined : `fast: ${a.slice(0, 400)}\nyaml: ${b.slice(0, 400)}`;
}

/**
 * Differential check of the fast YAML reader (src/manifests/yaml-fast.ts): random texts near the
 * edge of its subset, and the repository's fixtures with random edits, must either be refused by
 * the fast path (and go to yaml) or give exactly what yaml gives (values, issues, positions).
 * Seeded, so a failure prints a text that reproduces it.
 */
describe('fast YAML reader, differential against yaml', () => {
  it('agrees on generated texts', () => {
    const next = rng(13);
    let accepted = 0;
    for (let i = 0; i < 8000; i++) {
      const text = generate(next);
      if (parseYamlFast(text) !== undefined) accepted++;
      const problem = disagreement(text);
      expect(problem, `${JSON.stringify(text)}\n${problem}`).toBeUndefined();
    }
    // The generator must reach the fast path often, or the comparison proves nothing.
    expect(accepted).toBeGreaterThan(400);
  });

  it('agrees on mutated repository fixtures', () => {
    const next = rng(7);
    const files = [...yamlFiles(join(repoRoot, 'test')), ...yamlFiles(join(repoRoot, 'examples'))].map((f) => readFileSync(f, 'utf8'));
    let accepted = 0;
    for (let i = 0; i < 2500; i++) {
      const text = mutate(files[Math.floor(next() * files.length)]!, next);
      if (parseYamlFast(text) !== undefined) accepted++;
      const problem = disagreement(text);
      expect(problem, `${JSON.stringify(text)}\n${problem}`).toBeUndefined();
    }
    expect(accepted).toBeGreaterThan(400);
  });
});
