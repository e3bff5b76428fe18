#!/usr/bin/env node
// The phase's own checks, run by cf after the built-in ones and the item schema (pipeline.yaml). It reads
// the answer (CF_OUTPUT_FILE) and the batch's items (CF_INPUT_FILE). Exit 0: valid. Exit 1: invalid, one
// error a line on stdout as "ID: message"; cf sends the errors back to the agent with its next attempt.
import { readFileSync } from 'node:fs';

const items = JSON.parse(readFileSync(process.env.CF_INPUT_FILE, 'utf8'));
const answers = JSON.parse(readFileSync(process.env.CF_OUTPUT_FILE, 'utf8'));
const byId = new Map(answers.map((a) => [a.id, a]));
const errors = [];

for (const item of items) {
  const a = byId.get(item.id);
  if (!a) continue; // cf reports a missing item itself
  const headlineWords = a.headline.split(/\s+/).filter(Boolean).length;
  if (headlineWords > 8) errors.push(`${item.id}: the headline has ${headlineWords} words; at most 8`);
  if (/\.$/.test(a.headline)) errors.push(`${item.id}: the headline ends with a full stop`);
  const words = item.text.split(/\s+/).filter(Boolean).length;
  if (a.words !== words) errors.push(`${item.id}: words is ${a.words}, but the text has ${words}`);
}
if (errors.length) {
  process.stdout.write(`${errors.join('\n')}\n`);
  process.exit(1);
}
