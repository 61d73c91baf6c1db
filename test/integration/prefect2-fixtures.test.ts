// The Prefect 2 deployment.yaml fixtures stay honest: a real Prefect 2.20 `prefect deployment
// build` (its own venv and throwaway server, scripts/build-prefect2-fixtures.ts) writes the same
// files today, apart from the build timestamp and the storage block's id.
import { describe, expect, it } from 'vitest';
import { buildWithThrowawayServer, CASES, compareWithCommitted, normalise } from '../../scripts/build-prefect2-fixtures.js';

describe('test/fixtures/prefect2-deployment-yaml', () => {
  it('match what Prefect 2.20 `prefect deployment build` writes for the five cases', async () => {
    const built = await buildWithThrowawayServer();
    expect(Object.keys(built).sort()).toEqual(Object.keys(CASES).sort());
    const differences = await compareWithCommitted(built);
    expect(differences.map((d) => ({ file: d.file, committed: normalise(d.committed), built: normalise(d.built) }))).toEqual([]);
  }, 600_000);
});
