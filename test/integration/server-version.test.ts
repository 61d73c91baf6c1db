import { describe, expect, it } from 'vitest';
import { readPinnedPrefectVersion, selectedPrefectVersion } from '../../scripts/prefect-venv.js';
import { api } from '../helpers/prefect.js';

describe('the Prefect test server', () => {
  it('runs the version selected by PREFECT_GITOPS_PREFECT_VERSION, else the one pinned in scripts/prefect-requirements.txt', async () => {
    expect(await api('GET', '/admin/version')).toBe(selectedPrefectVersion() ?? (await readPinnedPrefectVersion()));
  });

  it('is healthy', async () => {
    expect(await api('GET', '/health')).toBe(true);
  });
});
