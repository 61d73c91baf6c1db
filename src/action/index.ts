// The GitHub Action's entry point (action.yml `main`, bundled to dist/action/index.js).
import { run } from './main.js';

await run();
