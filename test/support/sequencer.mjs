import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Sequencer from '@jest/test-sequencer';

/**
 * Longest suites first, on a fresh clone too. Jest orders by the durations in its cache, and a clean
 * clone (CI) has none: it then goes by file size, and a 100-second suite (Chromium, spawned
 * processes, failovers) could start last and hold the run's end while the other workers idle.
 * Without a cached duration a suite's is read from suite-durations.json beside this file (seconds,
 * from a full run's `--json` report: `node scripts/suite-durations.mjs <report>`); a suite in neither
 * runs first, as Jest does with one it has never timed.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
let known = {};
try {
  known = JSON.parse(readFileSync(path.join(here, 'suite-durations.json'), 'utf8'));
} catch {
  known = {};
}

const Base = Sequencer.default ?? Sequencer;

export default class SlowFirstSequencer extends Base {
  time(test) {
    const cached = super.time(test);
    if (cached != null) return cached;
    const seconds = known[path.relative(root, test.path).split(path.sep).join('/')];
    return typeof seconds === 'number' ? seconds * 1000 : undefined;
  }
}
