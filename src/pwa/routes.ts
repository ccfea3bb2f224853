import { join } from 'node:path';
import type { Middleware } from 'koa';
import { projectRoot } from '../http/paths.js';
import { serveFolder } from '../http/static.js';

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

function headers(file: string): Record<string, string> {
  if (file === 'sw.js') return { 'Service-Worker-Allowed': `${PREFIX}/` };
  if (file === 'index.html') return { 'Content-Security-Policy': CSP, 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY' };
  return {};
}

export function pwaRoutes(opts: PwaRoutesOptions = {}): Middleware {
  const files = serveFolder(PREFIX, opts.distDir ?? join(projectRoot(), 'pwa', 'dist'), {
    types: TYPES, cacheControl, headers, index: 'index.html',
    missingIndex: 'The authenticator app is not built: run `node scripts/build-pwa.mjs`.',
  });
  return async function pwa(ctx, next) {
    if (ctx.path === PREFIX) {
      // Keep the query: enrollment links are /pwa/?enroll=…&issuer=…
      ctx.status = 301;
      ctx.redirect(`${PREFIX}/${ctx.querystring ? `?${ctx.querystring}` : ''}`);
      return;
    }
    return files(ctx, next);
  };
}
