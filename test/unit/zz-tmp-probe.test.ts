import { it } from 'vitest';
it('slow', async () => { await new Promise((r) => setTimeout(r, 60_000)); }, 90_000);
