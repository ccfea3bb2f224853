import type Koa from 'koa';

/**
 * Pure: a query string as Koa's `ctx.query` gives it (a value, or a list when the name repeats; names
 * in the order they first appear; every name an own property, `__proto__` too), in one pass. Koa's
 * own parser asks URLSearchParams for all values of a name at each of its occurrences: `?a&a&a...`
 * costs n² (red-team: 7,500 repeats in a 15 KB query held the process 450 ms per request, on every
 * path, /healthz too, before any check of ours ran).
 */
export function parseQuery(query: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(query)) {
    const had = Object.prototype.hasOwnProperty.call(out, name) ? out[name] : undefined;
    const next = had === undefined ? value : Array.isArray(had) ? (had.push(value), had) : [had, value];
    Object.defineProperty(out, name, { value: next, writable: true, enumerable: true, configurable: true });
  }
  return out;
}

/** Gives every request of `app` the linear parser for `ctx.query` (cached per query string, as Koa does). */
export function useLinearQuery(app: Koa): void {
  const proto = Object.getPrototypeOf(app.request) as object;
  const original = Object.getOwnPropertyDescriptor(proto, 'query');
  Object.defineProperty(app.request, 'query', {
    configurable: true,
    get(this: { querystring: string; _linearQuery?: Map<string, Record<string, string | string[]>> }) {
      const cache = (this._linearQuery ??= new Map());
      let parsed = cache.get(this.querystring);
      if (!parsed) cache.set(this.querystring, (parsed = parseQuery(this.querystring)));
      return parsed;
    },
    set(value: unknown) { original?.set?.call(this, value); },
  });
}
