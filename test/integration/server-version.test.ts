import { describe, expect, it } from 'vitest';
import { readPinnedPrefectVersion } from '../../scripts/prefect-venv.js';
import { api } from '../helpers/prefect.js';

describe('the Prefect test server', () => {
  it('runs the version pinned in scripts/prefect-requirements.txt', async () => {
    expect(await api('GET', '/admin/version')).toBe(await readPinnedPrefectVersion());
  });

  it('is healthy', async () => {
    expect(await api('GET', '/health')).toBe(true);
  });
});
