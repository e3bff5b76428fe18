#!/usr/bin/env node
// An offline stand-in for an LLM agent: cf runs it once per batch. It reads the batch's items from
// CF_INPUT_FILE and writes one answer per item to CF_OUTPUT_FILE (a JSON array, same order, same ids).
// A real agent would send the prompt (CF_PROMPT_FILE: the intelligence, the items and what cf asks of
// the answer) to a model; this one makes a mechanical headline: the text's first words that are not
// small ones, in Title Case.
import { readFileSync, writeFileSync } from 'node:fs';

const SMALL = new Set(['a', 'an', 'and', 'the', 'of', 'on', 'by', 'to', 'from', 'after', 'will']);
const titleCase = (w) => w.charAt(0).toUpperCase() + w.slice(1);

const items = JSON.parse(readFileSync(process.env.CF_INPUT_FILE, 'utf8'));
const answers = items.map((item) => {
  const words = item.text.split(/\s+/).filter(Boolean);
  const headline = words.filter((w) => !SMALL.has(w.toLowerCase())).slice(0, 6).map(titleCase).join(' ');
  return { id: item.id, headline, words: words.length };
});
writeFileSync(process.env.CF_OUTPUT_FILE, `${JSON.stringify(answers, null, 2)}\n`);
