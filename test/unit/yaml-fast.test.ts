import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseYamlText, parseYamlTextWithYaml, type ParsedFile, type PathSegment, type SourceDocument } from '../../src/manifests/source.js';
import { MAY_RESOLVE, parseYamlFast, SCALAR_TAGS } from '../../src/manifests/yaml-fast.js';

/**
 * The fast YAML reader (src/manifests/yaml-fast.ts) must give, for every text it accepts, exactly
 * what the `yaml` library gives: the same documents at the same indexes, the same values (types
 * and key order included), no issues, and the same file:line:col for every path, key or value,
 * existing or not. Texts it does not accept go to `yaml` unchanged.
 */

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Every path of a value, plus paths that do not exist below each (the locator falls back). */
function pathsOf(value: unknown, prefix: PathSegment[] = [], out: PathSegment[][] = []): PathSegment[][] {
  out.push(prefix, [...prefix, 'no-such-key'], [...prefix, 99]);
  if (Array.isArray(value)) value.forEach((item, i) => pathsOf(item, [...prefix, i], out));
  else if (value && typeof value === 'object') for (const [key, child] of Object.entries(value)) pathsOf(child, [...prefix, key], out);
  return out;
}

function positions(doc: SourceDocument): string[] {
  return [`start ${JSON.stringify(doc.start)}`, ...pathsOf(doc.value).flatMap((path) => [
    `${JSON.stringify(path)} ${JSON.stringify(doc.locate(path))}`,
    `${JSON.stringify(path)} key ${JSON.stringify(doc.locate(path, { key: true }))}`,
  ])];
}

const summary = (parsed: ParsedFile): unknown => ({
  issues: parsed.issues,
  documents: parsed.documents.map((d) => ({ index: d.index, json: JSON.stringify(d.value), value: d.value, positions: positions(d) })),
});

/** Whether the fast reader takes the text; when it does, asserts it agrees with yaml. */
function agreesWithYaml(text: string): boolean {
  const accepted = parseYamlFast(text) !== undefined;
  if (accepted) {
    const reference = parseYamlTextWithYaml(text, 'f.yaml');
    expect(reference.issues, `yaml reports problems in a text the fast reader took:\n${text}`).toEqual([]);
    expect(summary(parseYamlText(text, 'f.yaml')), text).toStrictEqual(summary(reference));
  }
  return accepted;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules') return [];
    return statSync(path).isDirectory() ? yamlFiles(path) : /\.ya?ml$/i.test(name) ? [path] : [];
  });
}

describe('fast YAML reader', () => {
  it('agrees with yaml on every YAML file under test/ and examples/', () => {
    const files = [...yamlFiles(join(repoRoot, 'test')), ...yamlFiles(join(repoRoot, 'examples'))];
    expect(files.length).toBeGreaterThan(100);
    const accepted = files.filter((file) => agreesWithYaml(readFileSync(file, 'utf8')));
    // Most fixtures are plain block YAML: the fast path is the common one, not a corner.
    expect(accepted.length, `fast path took ${accepted.length} of ${files.length}: ${accepted.map((f) => relative(repoRoot, f)).slice(0, 5).join(', ')}`).toBeGreaterThan(files.length / 2);
  });

  it('agrees with yaml on what bench-validate writes', async () => {
    const { stringify } = await import('yaml');
    const text = stringify({
      name: 'bench-00003',
      entrypoint: 'flows/batch_4.py:report_4',
      tags: ['group-3'],
      parameters: { day: 'today', recipients: ['team-3@example.com'], n: 3, ratio: 0.5, flag: true, none: null },
      work_pool: { job_variables: { env: { BENCH_INDEX: '3', EMPTY: '' } } },
      schedules: [{ cron: '0 6 1 * *', timezone: 'Asia/Tokyo' }, { interval: 3600, anchor_date: '2024-01-01T00:00:00Z', parameters: { verbose: true } }],
    });
    expect(agreesWithYaml(text)).toBe(true);
  });

  // Each text: whether the fast path takes it. Those it takes must agree with yaml exactly.
  const cases: [string, boolean][] = [
    ['a: 1\nb: two\nc: "three"\nd: \'fo\'\'ur\'\n', true],
    ['a:\nb:   # nothing\n\n  # a comment\nc: 1\n', true],
    ['tags:\n- a\n-\n- c   # note\nname: x\n', true],
    ['tags:\n  - a\n  - b\nname: x\n', true],
    ['- a: 1\n  b: 2\n-   c: 3\n    d:\n    - x\n    e: [1]\n', true],
    ['- a: 1\n  b: 2\n-   c: 3\n    d:\n    - x\n    e: 5\n', true],
    ['-\n  a: 1\n-\n- - x\n', false],
    ['-\n  a: 1\n-\n-\n  - x\n', true],
    ['# head\n---\na: 1\n---\n---\nb: 2\n--- # c\nc: 3\n---\n', true],
    ['a: 1\n---\nb: 2\n', true],
    ['  a: 1\n  b:\n    c: 2\n', true],
    ['', true],
    ['# only a comment\n', true],
    ['\n\n', true],
    ['n: -1\nm: -x\nf: 1.5e3\no: 0o17\nh: 0x1F\nt: True\nnul: ~\nN: NULL\nd: 2024-01-01\nv: 1.0\nneg: -0\n', true],
    ['url: http://example.com/a#frag\nentry: flows/a.py:etl\nhash: a #comment\nk#: v\n', true],
    ['"quoted key": 1\n\'single\': 2\nplain key with spaces: 3\n', true],
    ['a: b: c\n', false],
    ['a: |\n  text\n', true],
    ['a: >\n  text\n', true],
    ['a:\n  b: >-\n    one\n    two\n\n      more\n    three\n\n  c: |\n    x\n    # not a comment\n\n\n  d: |-\n    y\n  # a comment\ne: >\n  last', true],
    ['- |\n  a\n-  >-\n   b\n   c\n- x\n', true],
    ['a: |+\n  kept\n\nb: 1\n', false],
    ['a: |2\n    x\n', false],
    ['a: | # c\n  x\n', false],
    ['a: |\n\n      x\n    y\n', false],
    ['a: |\n    x\n  y\n', false],
    ['a: |\nb: 1\n', false],
    ['a: >-\n\n   x\n', true],
    ['a: >-\n     \n   x\n', false],
    ['a: [1, 2]\n', true],
    ['a: {b: 1}\n', true],
    ['a: []\nb: {}\nc: [ ]\nd: [x, "y", \'z\', [1, {k: v}], -1, http://h/p]   # c\ne: {name: p, n: 3, "q": "x y"}\n- [a]\n', false],
    ['a: []\nb: {}\nc: [ ]\nd: [x, "y", \'z\', [1, {k: v}], -1, http://h/p]   # c\ne: {name: p, n: 3, "q": "x y"}\nf:\n- [a]\n- {}\n', true],
    ['a: [1, 2,]\n', false],
    ['a: [1, , 2]\n', false],
    ['a: [1, 2\n  ]\n', false],
    ['a: [k: v]\n', false],
    ['a: {k}\n', false],
    ['a: {k: }\n', false],
    ['a: {k: 1, k: 2}\n', false],
    ['a: {"k":1}\n', false],
    ['a: [x #c]\n', false],
    ['a: [x]y\n', false],
    ['a: [x] #c\n', true],
    ['a: [x:y, a#b]\n', true],
    ['a: {k: a: b}\n', false],
    ['a: [1] \n  b: 2\n', false],
    ['a: &x 1\nb: *x\n', false],
    ['base: &b\n  x: 1\nc:\n  <<: *b\n', false],
    ['a: !!str 1\n', false],
    ['a: "esc\\n"\n', false],
    ['a: "multi\n  line"\n', false],
    ['a: multi\n  line plain\n', false],
    ['a: 1\na: 2\n', false],
    ['1: one\n', false],
    ['true: yes\n', false],
    ['NULL: x\n', false],
    ['__proto__: 1\n', false],
    ['a\t: 1\n', false],
    ['a: 1\r\nb: 2\r\n', false],
    ['%YAML 1.2\n---\na: 1\n', false],
    ['a: 1\n...\n', false],
    ['--- a: 1\n', false],
    ['a: .inf\n', false],
    ['a: .nan\n', false],
    ['a: 12345678901234567890\n', false],
    ['a: 1\n- b\n', false],
    ['a:\n  b: 1\n c: 2\n', false],
    ['a:\n    b: 1\n  c: 2\n', false],
    ['a : 1\n', false],
    ['? a\n: 1\n', false],
    ['plain scalar root\n', false],
    ['- a\nb: 1\n', false],
    ['a: - b\n', false],
    ['a: "x" y\n', false],
    ['a: \'unterminated\n', false],
    ['x: -\n', false],
    ['a:b\n', false],
    ['a: "q"   # comment\nb: \'\'\nc: ""\n', true],
    ['a: x[y]{z},w\nb: @x\n', false],
    ['a: x[y]{z},w\n', true],
    ['- - a\n', false],
    ['key:\n  - a: 1\n    b:\n    - c\n  - d\n', true],
    ['a:\n  - x\n  y: 1\n', false],
    ['emoji: "café ☕"\nplain: naïve\n', true],
    [`${'k'.repeat(1100)}: 1\n`, false],
  ];

  it('takes a plain scalar for a string without testing the tags only where no tag can match', () => {
    const suffixes = ['', 'rue', 'RUE', 'alse', 'ull', 'ULL', '1', '12', '.5', '5e3', 'e3', 'x1F', 'o17', 'inf', 'Inf', 'nan', 'NaN', 'NAN', '.inf', '.nan', '<', '0'];
    for (let code = 0x20; code < 0x7f; code++) {
      const first = String.fromCharCode(code);
      if (MAY_RESOLVE.includes(first)) continue;
      for (const suffix of suffixes) {
        for (const tag of SCALAR_TAGS) expect(tag.test!.test(first + suffix), `${tag.tag} matches ${first + suffix}`).toBe(false);
      }
    }
    // And each tag does match something: the set is not vacuous.
    for (const tag of SCALAR_TAGS) expect(['~', 'null', 'true', '0o17', '12', '0x1F', '.nan', '1e3', '1.5'].some((s) => tag.test!.test(s)), tag.tag).toBe(true);
  });

  it.each(cases)('%j: fast path %s, same result as yaml', (text, accepted) => {
    expect(agreesWithYaml(text)).toBe(accepted);
  });
});
