// Builds the one native part, native/webpush-ecdh (a Web Push message's ECDH on Node's own
// OpenSSL, about 40 us less CPU per message than node:crypto: native/webpush-ecdh/ecdh.c says why),
// into dist/native/webpush_ecdh.node, with the node-gyp that npm carries and the headers of the
// Node that runs this script. It is optional: without a C compiler, Python or Node's headers the
// IdP sends Web Push with node:crypto's ECDH (src/push/native-ecdh.ts), so this script never fails
// a build; it says which one the IdP will use, and writes that to dist/native/build.json.
//   node scripts/build-native.mjs
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = join(root, 'native', 'webpush-ecdh');
const outDir = join(root, 'dist', 'native');
const output = join(outDir, 'webpush_ecdh.node');

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

function finish(built, reason) {
  mkdirSync(outDir, { recursive: true });
  if (!built) rmSync(output, { force: true });
  writeFileSync(join(outDir, 'build.json'), JSON.stringify({ built, reason, node: process.version }, null, 2) + '\n');
  console.log(built
    ? 'native: built dist/native/webpush_ecdh.node (Web Push ECDH on Node\'s OpenSSL)'
    : `native: not built (${reason}); Web Push uses node:crypto's ECDH, about 40 us more CPU per message`);
  process.exit(0);
}

const gyp = nodeGyp();
if (!gyp) finish(false, 'npm\'s node-gyp was not found');
const dir = nodeDir();
if (!dir) finish(false, 'Node\'s headers were not found (include/node beside the node binary)');
const run = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${dir}`, '--loglevel=error'], { cwd: source, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
const built = join(source, 'build', 'Release', 'webpush_ecdh.node');
if (run.status !== 0 || !existsSync(built)) {
  const lines = `${run.stderr ?? ''}${run.stdout ?? ''}`.split('\n').map((l) => l.replace(/^gyp ERR! (find Python |stack )?/, '').trim()).filter(Boolean);
  const telling = lines.filter((l) => /error|not found|you need|no such/i.test(l));
  const why = (telling.length ? telling.slice(0, 2) : lines.slice(-3)).join(' | ');
  finish(false, `node-gyp failed${why ? `: ${why.slice(0, 300)}` : ''}`);
}
mkdirSync(outDir, { recursive: true });
copyFileSync(built, output);
finish(true, null);
