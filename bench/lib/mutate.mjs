#!/usr/bin/env node
// usage: node bench/lib/mutate.mjs ACTION [ACTION...] WS — the untimed hyperfine --prepare steps of
// bench/run.mjs (see mutate() in workload.mjs for the actions).
import { mutate } from './workload.mjs';

const args = process.argv.slice(2);
const ws = args.pop();
if (!ws || !args.length) {
  console.error('usage: mutate.mjs ACTION [ACTION...] WS   (clean | seed-edit | seeds-touch | prompt-edit | prompt-touch)');
  process.exit(2);
}
for (const a of args) mutate(a, ws);
