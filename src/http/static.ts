import type { Stats } from 'node:fs';
import { extname, resolve } from 'node:path';
import { send } from '@koa/send';
import type { Context, Middleware } from 'koa';
import { methodNotAllowed } from './errors.js';

/**
 * A folder served under a URL prefix with @koa/send, the Koa project's file sender (it resolves
 * the path inside the root and refuses what would leave it). Our policy stays here: only the
 * listed content types, only plain relative names (no dot segments, empty segments, backslashes,
 * NUL, hidden files, precompressed variants), each file's Cache-Control, nosniff, an ETag with 304.
 */
export interface FolderOptions {
  /** Content type by lower-case extension; a file of any other extension is not served. */
  types: Readonly<Record<string, string>>;
  /** Cache-Control of a file, by its path relative to the folder. */
  cacheControl: (rel: string) => string;
  /** Extra headers of a file (the PWA's shell and worker). */
  headers?: (rel: string) => Record<string, string>;
  /** The file answered at `${prefix}/`. */
  index?: string;
  /** The body of the 404 when the index is missing (the folder is not built). */
  missingIndex?: string;
}

const READ = 'GET, HEAD';

/** The decoded path of a request under the folder, or null when it is not a plain relative name. */
function plainName(raw: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (rel.split('/').some((part) => part === '' || part === '.' || part === '..' || part.startsWith('.'))) return null;
  return /[\\\0]/.test(rel) ? null : rel;
}

export function serveFolder(prefix: string, dir: string, opts: FolderOptions): Middleware {
  const root = resolve(dir);
  return async (ctx, next) => {
    if (!ctx.path.startsWith(`${prefix}/`)) return next();
    // JSON like every other refusal (hostile-input red-team: a bare text/plain 405).
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      throw methodNotAllowed(ctx.method, READ);
    }
    const raw = ctx.path.slice(prefix.length + 1) || (opts.index ?? '');
    const rel = plainName(raw);
    const type = rel === null ? undefined : opts.types[extname(rel).toLowerCase()];
    if (rel === null || !type) return notFound(ctx);
    ctx.set('Cache-Control', opts.cacheControl(rel));
    ctx.set('X-Content-Type-Options', 'nosniff');
    for (const [name, value] of Object.entries(opts.headers?.(rel) ?? {})) ctx.set(name, value);
    ctx.type = type;
    let sent: string | undefined;
    try {
      sent = await send(ctx, raw, {
        root, index: false, hidden: false, gzip: false, brotli: false, format: false,
        setHeaders: (res, _file, stats: Stats) => res.setHeader('ETag', `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`),
      });
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status !== undefined && status >= 400 && status < 500) return notFound(ctx, rel === opts.index ? opts.missingIndex : undefined);
      throw err;
    }
    if (!sent) return notFound(ctx);
    if (ctx.fresh) {
      ctx.status = 304;
      ctx.body = null;
    }
  };
}

/** Not here: a bare 404 (the app's edge words it), or the given text. */
function notFound(ctx: Context, text?: string): void {
  ctx.remove('Cache-Control');
  ctx.remove('ETag');
  ctx.status = 404;
  if (text) ctx.body = text;
}

const PAGE_TYPES = { '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png' };

/** The pages' own files (views/static: stylesheet, page scripts) under a prefix, cached an hour. */
export function staticFiles(prefix: string, dir: string): Middleware {
  return serveFolder(prefix, dir, { types: PAGE_TYPES, cacheControl: () => 'public, max-age=3600' });
}
