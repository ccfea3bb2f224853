#!/usr/bin/env node
// Writes test/support/suite-durations.json (each suite's seconds) from a Jest `--json` report of a
// full run, for test/support/sequencer.mjs:
//   NODE_OPTIONS=--experimental-vm-modules npx jest --json --outputFile=/tmp/report.json
//   node scripts/suite-durations.mjs /tmp/report.json
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const report = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8'));
const root = process.cwd();
const out = {};
for (const r of report.testResults) {
  out[path.relative(root, r.name).split(path.sep).join('/')] = Math.round((r.endTime - r.startTime) / 100) / 10;
}
const sorted = Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
writeFileSync('test/support/suite-durations.json', JSON.stringify(sorted, null, 1) + '\n');
console.log(`test/support/suite-durations.json: ${Object.keys(sorted).length} suites`);
