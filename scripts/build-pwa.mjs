// Builds the authenticator PWA: pwa/src -> pwa/dist (served under /pwa/ by src/pwa/routes.ts).
//   node scripts/build-pwa.mjs            bundle + type-check pwa/ (in parallel, about 3 s)
//   node scripts/build-pwa.mjs --no-check bundle only (about 0.2 s)
// app.ts and style.css get content-hashed names (cached for a year); index.html, sw.js and the
// manifest keep fixed names and are revalidated. sw.js learns the files to precache and a build id.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const started = Date.now();
const root = fileURLToPath(new URL('..', import.meta.url));
const pwa = join(root, 'pwa');
const out = join(pwa, 'dist');
const check = !process.argv.includes('--no-check');
const target = ['es2022', 'chrome111', 'safari16.4', 'firefox115'];

function typecheck() {
  if (!check) return Promise.resolve(0);
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tsc, '-p', join(pwa, 'tsconfig.json')], { stdio: 'inherit' });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function build() {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });

  const app = await esbuild.build({
    entryPoints: { app: join(pwa, 'src/app.ts'), style: join(pwa, 'style.css') },
    outdir: out,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    minify: true,
    sourcemap: true,
    target,
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(app.metafile.outputs).map((p) => relative(out, join(root, p)).split('\\').join('/'));
  const named = (prefix, ext) => {
    const hit = outputs.find((p) => p.startsWith(prefix) && p.endsWith(ext));
    if (!hit) throw new Error(`no ${prefix}*${ext} in the build`);
    return hit;
  };

  const html = readFileSync(join(pwa, 'index.html'), 'utf8')
    .replace('href="style.css"', `href="${named('style-', '.css')}"`)
    .replace('src="app.js"', `src="${named('app-', '.js')}"`);
  writeFileSync(join(out, 'index.html'), html);
  cpSync(join(pwa, 'manifest.webmanifest'), join(out, 'manifest.webmanifest'));
  cpSync(join(pwa, 'icons'), join(out, 'icons'), { recursive: true });

  // Everything the app needs offline: the shell, its hashed bundles (chunks included), the icons.
  const icons = readdirSync(join(pwa, 'icons')).map((f) => `icons/${f}`);
  const precache = ['index.html', 'manifest.webmanifest', ...outputs.filter((p) => !p.endsWith('.map')), ...icons].sort();
  const hash = createHash('sha256');
  for (const file of precache) hash.update(file).update(readFileSync(join(out, file)));
  const buildId = hash.digest('hex').slice(0, 12);

  await esbuild.build({
    entryPoints: [join(pwa, 'src/sw.ts')],
    outfile: join(out, 'sw.js'),
    bundle: true,
    format: 'iife',
    minify: true,
    sourcemap: true,
    target,
    define: { __PRECACHE__: JSON.stringify(precache), __BUILD_ID__: JSON.stringify(buildId) },
    logLevel: 'warning',
  });
  return { buildId, files: precache.length + 1 };
}

const [checked, built] = await Promise.all([typecheck(), build()]);
if (checked !== 0) {
  console.error('pwa: type errors (tsc -p pwa/tsconfig.json)');
  process.exit(1);
}
console.log(`pwa: built ${built.files} files into ${relative(root, out) || basename(out)}/ (build ${built.buildId}) in ${Date.now() - started} ms${check ? ', type-checked' : ''}`);

