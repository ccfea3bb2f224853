// Writes README.md's Configuration table from the settings schema (src/config/settings.ts).
//   npm run config-table            rewrite the block between the config-table markers
//   npm run config-table -- --check exit 1 when README.md's table is not the generated one
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withConfigTable } from '../src/config/settings-table.js';

const readme = fileURLToPath(new URL('../README.md', import.meta.url));
const current = readFileSync(readme, 'utf8');
const generated = withConfigTable(current);
if (process.argv.includes('--check')) {
  if (generated !== current) {
    process.stderr.write('README.md: the Configuration table differs from src/config/settings.ts; run npm run config-table\n');
    process.exit(1);
  }
  process.stdout.write('README.md: the Configuration table is up to date\n');
} else if (generated !== current) {
  writeFileSync(readme, generated);
  process.stdout.write('README.md: Configuration table rewritten\n');
} else {
  process.stdout.write('README.md: the Configuration table is up to date\n');
}
