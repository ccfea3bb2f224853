// `npm start` / `npm run radius` build only what changed (issue 16, item 9): each part (server,
// page scripts, PWA) is rebuilt when a file it is built from is newer, bigger, smaller, added or
// removed since its last build, or when its output is missing. A fingerprint of each part's inputs
// (path, size, mtime) is kept in dist/.build-stamps.json. `npm run build` always builds everything.
//   node scripts/build-if-stale.mjs           build what is stale
//   node scripts/build-if-stale.mjs --dry-run  say what is stale, build nothing
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stampFile = join(root, 'dist', '.build-stamps.json');
const dryRun = process.argv.includes('--dry-run');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** Files under `dir` (recursively), skipping `skip` folder names. */
function files(dir, skip = new Set(['node_modules', 'dist'])) {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  if (statSync(abs).isFile()) return [dir];
  return readdirSync(abs, { withFileTypes: true }).flatMap((e) => {
    if (skip.has(e.name)) return [];
    const rel = join(dir, e.name);
    return e.isDirectory() ? files(rel, skip) : [rel];
  });
}

function fingerprint(inputs) {
  const h = createHash('sha256');
  for (const f of inputs.flatMap((i) => files(i)).sort()) {
    const st = statSync(join(root, f));
    h.update(`${f}\0${st.size}\0${st.mtimeMs}\n`);
  }
  return h.digest('hex');
}

const PARTS = [
  {
    name: 'server',
    inputs: ['src', 'types', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'],
    output: 'dist/src/main.js',
    command: [process.execPath, tsc, '-p', 'tsconfig.build.json'],
  },
  {
    name: 'pages',
    inputs: ['views/scripts', 'scripts/build-pages.mjs'],
    output: 'views/static/page.js',
    command: [process.execPath, 'scripts/build-pages.mjs'],
  },
  {
    name: 'pwa',
    inputs: ['pwa', 'scripts/build-pwa.mjs'],
    output: 'pwa/dist/sw.js',
    command: [process.execPath, 'scripts/build-pwa.mjs'],
  },
  {
    // Optional: it writes build.json whether or not the addon could be built (scripts/build-native.mjs).
    name: 'native',
    inputs: ['native/webpush-ecdh/binding.gyp', 'native/webpush-ecdh/ecdh.c', 'native/malloc-trim/binding.gyp', 'native/malloc-trim/trim.c', 'scripts/build-native.mjs'],
    output: 'dist/native/build.json',
    command: [process.execPath, 'scripts/build-native.mjs'],
  },
];

const stamps = existsSync(stampFile) ? JSON.parse(readFileSync(stampFile, 'utf8')) : {};
let built = 0;
for (const part of PARTS) {
  const print = fingerprint(part.inputs);
  if (stamps[part.name] === print && existsSync(join(root, part.output))) continue;
  if (dryRun) {
    console.log(`stale: ${part.name}`);
    continue;
  }
  console.log(`building ${part.name} (its sources changed, or it was never built here)`);
  const run = spawnSync(part.command[0], part.command.slice(1), { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
  // The fingerprint of the inputs as they were built (a file edited during the build is stale next time).
  stamps[part.name] = print;
  built++;
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(stampFile, JSON.stringify(stamps, null, 2));
}
if (!dryRun && built === 0) console.log('build: up to date');
