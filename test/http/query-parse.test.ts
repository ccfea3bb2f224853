import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createRequire } from 'node:module';
import { parseQuery } from '../../src/http/query.js';
import { startTestIdp, type TestIdp } from '../support/idp.js';

/**
 * ctx.query is read by a linear parser (src/http/query.ts). Koa's own asks URLSearchParams for all
 * values of a name at each occurrence: red-team (CPU), `GET /healthz?a&a&...` (7,500 repeats, 15 KB)
 * held the whole process for 450 ms per request before any check ran. The replacement must give
 * what Koa's gives, for every reader of ctx.query (oidc-provider, SAML, the pages).
 */
const koaParse = (createRequire(import.meta.url)('koa/lib/search-params.js') as { parse(s: string): Record<string, unknown> }).parse;

describe('parseQuery gives what Koa\'s parser gives', () => {
  it.each([
    '', 'a=1', 'a=1&b=2', 'a=1&a=2&b=3&a=4', 'a&a&a', 'a=&b', '__proto__=x&constructor=y&toString=z',
    '__proto__=1&__proto__=2', 'x=%E2%82%AC&y=a+b&%61=1', '=v&=w', 'a=1&&b=2', 'redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&scope=openid+email',
  ])('%j', (query) => {
    const ours = parseQuery(query);
    const koa = koaParse(query);
    expect(Object.keys(ours)).toEqual(Object.keys(koa));
    for (const k of Object.keys(koa)) expect(Object.getOwnPropertyDescriptor(ours, k)!.value).toEqual(Object.getOwnPropertyDescriptor(koa, k)!.value);
    expect(Object.getPrototypeOf(ours)).toBe(Object.getPrototypeOf(koa));
  });
});

describe('the IdP reads a query of 7,500 repeated names without Koa\'s per-occurrence look-ups', () => {
  let t: TestIdp;
  beforeAll(async () => { t = await startTestIdp({}); });
  afterAll(() => t.close());

  it('/healthz and a page answer it, and no request asks URLSearchParams for all values of a name', async () => {
    const getAll = jest.spyOn(URLSearchParams.prototype, 'getAll');
    try {
      const query = 'a&'.repeat(7500);
      expect((await fetch(`${t.url}/healthz?${query}`)).status).toBe(200);
      expect((await fetch(`${t.url}/.well-known/openid-configuration?${query}ui_locales=de`)).status).toBe(200);
      expect(getAll).not.toHaveBeenCalled();
    } finally { getAll.mockRestore(); }
  });
});
