import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { hiddenValues, redact, redactText, REDACTED, scrubSecrets } from '../../src/render/redact.js';
import { forDisplay } from '../../src/render/escape.js';

describe('URL passwords are redacted wherever a value is shown', () => {
  it.each([
    ['postgresql://user:pw@host/db', 'postgresql://user:***@host/db'],
    ['postgresql+asyncpg://app:s3cr3t@db.internal:5432/prefect', 'postgresql+asyncpg://app:***@db.internal:5432/prefect'],
    ['redis://:only-password@cache:6379/0', 'redis://:***@cache:6379/0'],
    ['amqp://u:p%40ss@rabbit/vhost', 'amqp://u:***@rabbit/vhost'],
    ['mysql://u:p@ss@h/x', 'mysql://u:***@h/x'],
    ['connect with DSN=postgresql://user:pw@host/db now', 'connect with DSN=postgresql://user:***@host/db now'],
    ['two: s3://k:v@b/x and https://a:b@c/', 'two: s3://k:***@b/x and https://a:***@c/'],
  ])('%s -> %s', (input, expected) => {
    expect(scrubSecrets(input, [])).toBe(expected);
    expect(redact({ env: { DATABASE_URL: input } })).toEqual({ env: { DATABASE_URL: expected } });
  });

  it.each(['https://example.com/a:b@c', 'https://user@host/x', 'user:pw@host', 'ssh://git@github.com/org/repo', 'x: {a: b}'])('leaves %s alone', (text) => {
    expect(scrubSecrets(text, [])).toBe(text);
  });

  it('does not run across JSON strings when scrubbing serialised data', () => {
    const text = JSON.stringify({ a: 'x://u', b: 'p@h', c: 'postgresql://user:pw@host/db' });
    expect(JSON.parse(scrubSecrets(text, []))).toEqual({ a: 'x://u', b: 'p@h', c: 'postgresql://user:***@host/db' });
  });
});

describe('values under a sensitive key are hidden whole', () => {
  it('hides lists and mappings as well as scalars; keeps null and booleans', () => {
    const value = {
      job_variables: {
        env: { API_TOKEN: ['a', 'b'], DB_PASSWORD: { primary: 'p1', replica: 'p2' }, SECRET_KEY: 'k', auth_enabled: false, api_key: null, image: 'x' },
      },
      parameters: { credentials: [{ user: 'u', password: 'p' }], name: 'n' },
    };
    expect(redact(value)).toEqual({
      job_variables: { env: { API_TOKEN: REDACTED, DB_PASSWORD: REDACTED, SECRET_KEY: REDACTED, auth_enabled: false, api_key: null, image: 'x' } },
      parameters: { credentials: REDACTED, name: 'n' },
    });
  });

  it('hides a JSON Patch value whose path names a sensitive key, also a list', () => {
    expect(redact([{ op: 'replace', path: '/job_variables/env/secrets', value: ['x', 'y'] }])).toEqual([{ op: 'replace', path: '/job_variables/env/secrets', value: REDACTED }]);
  });

  it('lists what it hides, to scrub echoes of it', () => {
    const value = { env: { API_TOKEN: ['tok-aaaa', 'tok-bbbb'], secret: { a: 'nested-secret' }, DB: 'postgresql://u:pass-word@h/d', plain: 'visible-value' } };
    expect(hiddenValues(value).sort()).toEqual(['nested-secret', 'pass-word', 'tok-aaaa', 'tok-bbbb']);
    expect(scrubSecrets('the server said: tok-bbbb is invalid; nested-secret too', hiddenValues(value))).toBe('the server said: [REDACTED] is invalid; [REDACTED] too');
  });
});

describe('server error bodies get the same redaction', () => {
  it('hides sensitive keys of a JSON body, URL passwords and known secrets', () => {
    const body = JSON.stringify({ detail: 'bad', input: { API_TOKEN: 'tok-123456', url: 'postgresql://u:pw@h/d' }, echo: 'key pnu_abcdef' });
    expect(JSON.parse(redactText(body, ['pnu_abcdef']))).toEqual({ detail: 'bad', input: { API_TOKEN: REDACTED, url: 'postgresql://u:***@h/d' }, echo: 'key [REDACTED]' });
    expect(redactText('plain postgresql://u:pw@h/d', [])).toBe('plain postgresql://u:***@h/d');
  });
});

describe('the logger redacts like the renderers', () => {
  it('hides URL passwords and sensitive lists without any known secret, in both formats', () => {
    for (const format of ['json', 'text'] as const) {
      let out = '';
      const logger = createLogger({ level: 'info', format, write: (line) => void (out += line) });
      logger.info({ url: 'postgresql://user:pw-in-log@host/db', tokens: ['tok-one-1', 'tok-two-2'], job: { secrets: { a: 'deep-secret' } } }, 'connecting to postgresql://user:pw-in-msg@host/db');
      expect(out).toContain('postgresql://user:***@host/db');
      expect(out).not.toMatch(/pw-in-log|pw-in-msg|tok-one-1|tok-two-2|deep-secret/);
    }
  });
});

describe('rendering walks share what they do not change (linear in the plan, no copy per value)', () => {
  const clean = () => ({ actions: [{ kind: 'update', key: 'etl/a', changes: [{ field: 'tags', before: ['a'], after: ['a', 'b'] }] }], summary: { add: 0 } });

  it('redact and forDisplay return a value with nothing to hide as it is', () => {
    const plan = clean();
    expect(redact(plan, ['hunter2-secret'])).toBe(plan);
    expect(forDisplay(plan, ['hunter2-secret'])).toBe(plan);
  });

  it('copy only the branch that changes, and never write to their input', () => {
    const plan = { ...clean(), other: { env: { API_TOKEN: 'x1234' } }, names: ['a\u001bb'] };
    const before = structuredClone(plan);
    const shown = forDisplay(plan);
    expect(shown).not.toBe(plan);
    expect(shown.actions).toBe(plan.actions);
    expect(shown.other).toEqual({ env: { API_TOKEN: REDACTED } });
    expect(shown.names).toEqual(['a<U+001B>b']);
    expect(plan).toEqual(before);
  });
});
