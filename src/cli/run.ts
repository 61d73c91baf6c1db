// The entry of the single-file build (scripts/build-single.ts): run the CLI with this process's arguments.
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
