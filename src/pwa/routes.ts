import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { Middleware } from 'koa';
import { projectRoot } from '../http/paths.js';

/**
 * Serves the built authenticator PWA (pwa/dist, made by scripts/build-pwa.mjs) under /pwa/.
 * The worker and the page shell are revalidated on every load so that an update reaches phones;
 * bundles carry a content hash in their name and are cached for a year.
 */

export interface PwaRoutesOptions {
  /** Where the build is; defaults to pwa/dist in the project root. */
  distDir?: string;
}

const PREFIX = '/pwa';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/** esbuild's `[name]-[hash]`: eight base32 characters before the extension. */
const HASHED = /-[A-Z0-9]{8}\.(?:js|css)(?:\.map)?$/;

/**
 * The app's own policy, for its pages. No inline script or style attribute is needed (styles are
 * set through the CSSOM); connect-src allows https so that one app can hold accounts at other IdPs.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob: mediastream:",
  "connect-src 'self' https:",
  "worker-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function cacheControl(file: string): string {
  if (file === 'sw.js' || file === 'index.html') return 'no-cache';
  if (HASHED.test(file)) return 'public, max-age=31536000, immutable';
  if (file === 'manifest.webmanifest') return 'no-cache';
  return 'public, max-age=86400';
}

export function pwaRoutes(opts: PwaRoutesOptions = {}): Middleware {
  const root = resolve(opts.distDir ?? join(projectRoot(), 'pwa', 'dist'));

  return async function pwa(ctx, next) {
    const path = ctx.path;
    if (path === PREFIX) {
      // Keep the query: enrollment links are /pwa/?enroll=…&issuer=…
      ctx.status = 301;
      ctx.redirect(`${PREFIX}/${ctx.querystring ? `?${ctx.querystring}` : ''}`);
      return;
    }
    if (!path.startsWith(`${PREFIX}/`)) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      return;
    }

    let rel: string;
    try {
      rel = decodeURIComponent(path.slice(PREFIX.length + 1)) || 'index.html';
    } catch {
      ctx.status = 400;
      return;
    }
    // Only plain relative names inside the build: no dot segments, no backslashes, no NUL.
    if (rel.split('/').some((part) => part === '' || part === '.' || part === '..') || /[\\\0]/.test(rel)) {
      ctx.status = 404;
      return;
    }
    const type = TYPES[extname(rel).toLowerCase()];
    const file = join(root, rel);
    if (!type || !file.startsWith(root + sep)) {
      ctx.status = 404;
      return;
    }
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) {
      ctx.status = 404;
      if (rel === 'index.html') ctx.body = 'The authenticator app is not built: run `node scripts/build-pwa.mjs`.';
      return;
    }

    ctx.set('Cache-Control', cacheControl(rel));
    ctx.set('X-Content-Type-Options', 'nosniff');
    if (rel === 'sw.js') ctx.set('Service-Worker-Allowed', `${PREFIX}/`);
    if (rel === 'index.html') {
      ctx.set('Content-Security-Policy', CSP);
      ctx.set('Referrer-Policy', 'no-referrer');
      ctx.set('X-Frame-Options', 'DENY');
    }
    ctx.type = type;
    ctx.length = info.size;
    ctx.lastModified = info.mtime;
    ctx.etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    ctx.status = 200;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    if (ctx.method === 'HEAD') return;
    ctx.body = createReadStream(file);
  };
}
