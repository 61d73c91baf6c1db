import { NEWEST_CAPABILITIES } from '../../src/prefect/capabilities.js';
import { describe, expect, it } from 'vitest';
import { desiredDeployment, liveDeployment } from '../helpers/fixtures.js';
import type { ApplyResult } from '../../src/apply/apply.js';
import { issueAnnotations, planAnnotations } from '../../src/action/annotations.js';
import { renderDriftMarkdown } from '../../src/action/drift-markdown.js';
import { renderFailureMarkdown, renderValidationFailedMarkdown } from '../../src/action/failure-markdown.js';
import { createLogger } from '../../src/log.js';
import { driftReport } from '../../src/plan/drift.js';
import { OWNER_LABEL } from '../../src/plan/ownership.js';
import { plan, type LiveState } from '../../src/plan/plan.js';
import type { Plan, PlanOptions } from '../../src/plan/types.js';
import { escapeControl, escapeControlDeep, jsonSafe } from '../../src/render/escape.js';
import { renderIssueLines, renderIssuesJson, renderIssuesText } from '../../src/render/issues.js';
import { renderApplySummary, renderPlanComment, renderPlanSummary } from '../../src/render/markdown.js';
import { renderApplyText, renderDriftText, renderPlanJson, renderPlanText } from '../../src/render/text.js';
import type { Issue } from '../../src/validate/issue.js';

/**
 * Control characters from a manifest or from the server never reach the output raw, in any
 * renderer: ESC sequences (clear screen, set title, OSC 8 links), C1 controls (U+009B is CSI on
 * some terminals), DEL, carriage returns that overwrite a line.
 */

const ESC_CLEAR = '\u001b[2J';
const OSC_TITLE = '\u001b]0;pwned\u0007';
const CSI_C1 = '\u009b31m';
const CR = 'overwritten\r';
const HOSTILE = `${ESC_CLEAR}${OSC_TITLE}${CSI_C1}${CR}\u007f`;

/** Raw control characters other than line feed and tab; our own colour codes are removed first. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const withoutOwnColours = (text: string): string => text.replace(/\u001b\[\d+m/g, '');

const OWNER = 'team-a';
const options: PlanOptions = {
  owner: OWNER,
  environment: 'prod',
  serverVersion: `3.8.8${ESC_CLEAR}`,
  prune: true,
  maxDeletes: 100,
  maxDeleteRatio: 1,
  allowMassDelete: false,
  adoptAll: false,
  features: NEWEST_CAPABILITIES,
};

function hostilePlan(): { plan: Plan; live: LiveState } {
  const owned = (name: string, overrides = {}) => liveDeployment(name, { labels: { [OWNER_LABEL]: OWNER }, ...overrides }, OWNER);
  const live: LiveState = {
    deployments: new Map(
      [
        owned('changed', { description: `live ${HOSTILE}`, parameters: { [`key${ESC_CLEAR}`]: `v${OSC_TITLE}` } }),
        // Names the server holds, not validated by us: an orphan to delete and an unmanaged one.
        owned(`gone${CSI_C1}2J`),
        liveDeployment(`theirs${ESC_CLEAR}`, {}, null),
      ].map((d) => [`etl/${d.name}`, d]),
    ),
  };
  const result = plan(
    [
      desiredDeployment({ name: 'changed', description: `multi\nline ${HOSTILE}`, parameters: { [`key${ESC_CLEAR}`]: `new${CSI_C1}`, other: HOSTILE } }),
      desiredDeployment({ name: `new${ESC_CLEAR}`, tags: [`tag${OSC_TITLE}`], version: HOSTILE }),
    ],
    live,
    options,
  );
  return { plan: result, live };
}

const applyResult = (p: Plan): ApplyResult => ({
  ok: false,
  results: p.actions.map((a, i) => (i === 0 ? { kind: a.kind, key: a.key, status: 'failed', message: `server said ${HOSTILE}` } : { kind: a.kind, key: a.key, status: 'ok', id: 'x' })),
});

const issue: Issue = { file: `deployments/a${ESC_CLEAR}.yaml`, line: 1, column: 7, path: 'name', message: `deployment name "x${HOSTILE}" is bad`, severity: 'error' };

describe('no renderer emits a raw control character', () => {
  const { plan: p, live } = hostilePlan();
  const report = driftReport(p, live, new Set(['etl']));
  const now = new Date('2026-10-23T12:00:00Z');

  const outputs: [string, string][] = [
    ['plan text', renderPlanText(p, { color: false, now })],
    ['plan text, coloured', withoutOwnColours(renderPlanText(p, { color: true, now }))],
    ['apply text', renderApplyText(applyResult(p), p, { color: false })],
    ['apply text, coloured', withoutOwnColours(renderApplyText(applyResult(p), p, { color: true }))],
    ['drift text', renderDriftText(report, { color: false })],
    ['plan comment', renderPlanComment(p, { now })],
    ['plan summary', renderPlanSummary(p, { now })],
    ['apply summary', renderApplySummary(applyResult(p), p)],
    ['drift markdown', renderDriftMarkdown(report, { now, secrets: [] } as Parameters<typeof renderDriftMarkdown>[1])],
    ['plan annotations', JSON.stringify(planAnnotations(p, (f) => f, { secrets: [] }).map((a) => a.message)).replace(/\\u00[0-9a-f]{2}/g, '')],
    ['issue annotations', issueAnnotations([issue], (f) => f).map((a) => a.message).join('\n')],
    ['validation failed markdown', renderValidationFailedMarkdown([issue], { toPath: (f: string) => f } as Parameters<typeof renderValidationFailedMarkdown>[1])],
    ['failure markdown', renderFailureMarkdown('plan', `boom ${HOSTILE}`, {})],
    ['issue lines', renderIssueLines([issue])],
    ['issues text', renderIssuesText([issue], 1, 0)],
  ];

  it('shows that the plan really holds hostile values (the test is not vacuous)', () => {
    expect(JSON.stringify(p)).toContain('\\u001b[2J');
    expect(p.actions.map((a) => a.kind).sort()).toEqual(['create', 'delete', 'update']);
  });

  it.each(outputs)('%s', (_name, text) => {
    expect(text.length).toBeGreaterThan(0);
    const match = RAW_CONTROL.exec(text);
    expect(match ? `raw U+${match[0].charCodeAt(0).toString(16).padStart(4, '0')} at ${match.index}: ${JSON.stringify(text.slice(Math.max(0, match.index - 40), match.index + 10))}` : null).toBeNull();
  });

  it('shows what was there, escaped', () => {
    const text = renderPlanText(p, { color: false, now });
    expect(text).toContain('new<U+001B>[2J');
    expect(text).toContain('etl/gone<U+009B>31m2J will be deleted');
    expect(renderIssueLines([issue])).toContain('deployments/a<U+001B>[2J.yaml:1:7: error: deployment name "x<U+001B>[2J<U+001B>]0;pwned<U+0007><U+009B>31moverwritten<U+000D><U+007F>" is bad');
  });

  it('JSON outputs stay the same values, with C1 and DEL escaped too', () => {
    for (const json of [renderPlanJson(p), renderIssuesJson([issue])]) {
      expect(json).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      expect(JSON.stringify(JSON.parse(json))).toContain('\\u001b[2J');
    }
    expect(JSON.parse(renderPlanJson(p))).toEqual(JSON.parse(JSON.stringify(p)));
  });

  it('log lines, in both formats', () => {
    for (const format of ['text', 'json'] as const) {
      let out = '';
      const logger = createLogger({ level: 'info', format, write: (line) => void (out += line) });
      logger.info({ deployment: `etl/x${HOSTILE}` }, `applied ${HOSTILE}`);
      expect(out.replace(/\n$/, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    }
  });
});

describe('escapeControl', () => {
  it('escapes C0, DEL and C1; keeps line feeds and tabs only when asked', () => {
    expect(escapeControl('a\u001bb\u007fc\u0085d\te\nf')).toBe('a<U+001B>b<U+007F>c<U+0085>d<U+0009>e<U+000A>f');
    expect(escapeControl('a\u001bb\te\nf\r', { keepLayout: true })).toBe('a<U+001B>b\te\nf<U+000D>');
    expect(escapeControl('plain ünïcödé ✓')).toBe('plain ünïcödé ✓');
  });

  it('escapes keys, and keeps layout only in before/after values', () => {
    expect(escapeControlDeep({ 'k\u001b': 'v\n', changes: [{ field: 'f\n', before: 'a\nb\u001b', after: { x: 'c\nd' } }] })).toEqual({
      'k<U+001B>': 'v<U+000A>',
      changes: [{ field: 'f<U+000A>', before: 'a\nb<U+001B>', after: { x: 'c\nd' } }],
    });
  });

  it('jsonSafe keeps the JSON value', () => {
    const value = { a: 'x\u009by\u007f' };
    expect(JSON.parse(jsonSafe(JSON.stringify(value)))).toEqual(value);
  });
});

describe("the Action's core: messages are escaped like every other output", () => {
  it('error, warning, notice, info, debug and setFailed show control characters escaped', async () => {
    const { scrubbingCore } = await import('../../src/action/core.js');
    const seen: string[] = [];
    const record = (message: string): void => void seen.push(message);
    const core = scrubbingCore(
      {
        getInput: () => '',
        setOutput: () => undefined,
        setSecret: () => undefined,
        setFailed: record,
        error: record,
        warning: record,
        notice: record,
        info: record,
        logUntrusted: record,
        debug: record,
        appendSummary: async () => undefined,
      } as unknown as Parameters<typeof scrubbingCore>[0],
      (t) => t,
    );
    for (const emit of [core.setFailed, core.error, core.warning, core.notice, core.info, core.debug]) emit(`server said ${HOSTILE}\nsecond line`);
    expect(seen).toHaveLength(6);
    for (const line of seen) {
      expect(line).not.toMatch(RAW_CONTROL);
      expect(line).toContain('\nsecond line');
    }
  });
});
