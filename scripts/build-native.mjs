// Builds the native parts into dist/native/, with the node-gyp that npm carries and the headers of
// the Node that runs this script:
// - native/webpush-ecdh: a Web Push message's ECDH on Node's own OpenSSL, about 40 us less CPU per
//   message than node:crypto (native/webpush-ecdh/ecdh.c says why);
// - native/malloc-trim: gives the C heap's free pages back to the system off the main thread
//   (native/malloc-trim/trim.c says why).
// Both are optional: without a C compiler, Python or Node's headers the IdP sends Web Push with
// node:crypto's ECDH (src/push/native-ecdh.ts) and leaves the C heap as glibc keeps it
// (src/observability/heap-trim.ts), so this script never fails a build; it says which parts the
// IdP will use, and writes that to dist/native/build.json.
//   node scripts/build-native.mjs
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(root, 'dist', 'native');

const PARTS = [
  { key: 'webpushEcdh', dir: 'webpush-ecdh', file: 'webpush_ecdh.node', built: 'Web Push ECDH on Node\'s OpenSSL', without: 'Web Push uses node:crypto\'s ECDH, about 40 us more CPU per message' },
  { key: 'mallocTrim', dir: 'malloc-trim', file: 'malloc_trim.node', built: 'the C heap\'s free pages given back off the main thread', without: 'freed C heap stays resident until glibc reuses it' },
];

/** npm's own node-gyp: beside the npm that runs this script, or the one on PATH. */
function nodeGyp() {
  const candidates = [];
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) {
    try {
      candidates.push(join(dirname(realpathSync(which.stdout.trim())), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
    } catch { /* no npm there */ }
  }
  return candidates.find((c) => existsSync(c));
}

/** The headers of the Node running this (its install prefix has include/node), so nothing is downloaded. */
function nodeDir() {
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : process.env.npm_config_nodedir;
}

/** One part built and copied into dist/native/, or why not. */
function build(part, gyp, dir) {
  const output = join(outDir, part.file);
  rmSync(output, { force: true });
  if (!gyp) return 'npm\'s node-gyp was not found';
  if (!dir) return 'Node\'s headers were not found (include/node beside the node binary)';
  const source = join(root, 'native', part.dir);
  const run = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${dir}`, '--loglevel=error'], { cwd: source, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const built = join(source, 'build', 'Release', part.file);
  if (run.status !== 0 || !existsSync(built)) {
    const lines = `${run.stderr ?? ''}${run.stdout ?? ''}`.split('\n').map((l) => l.replace(/^gyp ERR! (find Python |stack )?/, '').trim()).filter(Boolean);
    const telling = lines.filter((l) => /error|not found|you need|no such/i.test(l));
    const why = (telling.length ? telling.slice(0, 2) : lines.slice(-3)).join(' | ');
    return `node-gyp failed${why ? `: ${why.slice(0, 300)}` : ''}`;
  }
  copyFileSync(built, output);
  return null;
}

mkdirSync(outDir, { recursive: true });
const gyp = nodeGyp();
const dir = nodeDir();
const report = { node: process.version };
for (const part of PARTS) {
  const reason = build(part, gyp, dir);
  report[part.key] = { built: reason === null, reason };
  console.log(reason === null
    ? `native: built dist/native/${part.file} (${part.built})`
    : `native: ${part.file} not built (${reason}); ${part.without}`);
}
writeFileSync(join(outDir, 'build.json'), JSON.stringify(report, null, 2) + '\n');
process.exit(0);
