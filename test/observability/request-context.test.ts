import { describe, expect, it } from '@jest/globals';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import Provider from 'oidc-provider';
import providerStorage from 'oidc-provider/lib/helpers/als.js';
import { carryProviderContext, requestContext, type ProviderStorage } from '../../src/observability/request-context.js';
import { currentRequestId } from '../../src/observability/request-id.js';
import { currentLocale } from '../../src/i18n/index.js';

/**
 * One AsyncLocalStorage for the process: oidc-provider's per-request context (Provider.ctx) rides in
 * ours. What oidc-provider and our code read must be what it was with two stores: inside
 * oidc-provider's middleware its Koa context, and the request's id and language beside it; outside
 * it (our own routes, background work) no Provider.ctx at all; and never another request's.
 */
describe('Provider.ctx carried in the request context', () => {
  carryProviderContext(providerStorage as unknown as ProviderStorage);

  it('is the Koa context inside oidc-provider\'s own middleware, beside the request id and language', async () => {
    const seen: { same: boolean; reqId: string | undefined; locale: string }[] = [];
    const provider = new Provider('http://127.0.0.1', {
      clients: [],
      features: { devInteractions: { enabled: false } },
      // Called inside oidc-provider's middleware: /auth without a client is refused through it.
      renderError: async (ctx, out) => {
        await sleep(5);
        seen.push({ same: Provider.ctx === ctx, reqId: currentRequestId(), locale: currentLocale() });
        ctx.type = 'html';
        ctx.body = `<html><body>${out.error}</body></html>`;
      },
    });
    const callback = provider.callback();
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const requestId = String(req.headers['x-test-id']);
      void requestContext.run({ requestId, locale: 'de' }, () => callback(req, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`;
      // In parallel: each request sees its own context, never a neighbour's.
      const ids = Array.from({ length: 12 }, (_, i) => `request-${i}-abcdef`);
      const statuses = await Promise.all(ids.map(async (id) => (await fetch(url, { headers: { 'x-test-id': id } })).status));
      expect(statuses).toEqual(ids.map(() => 400));
      expect(seen.map((s) => s.same)).toEqual(ids.map(() => true));
      expect(seen.map((s) => s.reqId).sort()).toEqual([...ids].sort());
      expect(seen.map((s) => s.locale)).toEqual(ids.map(() => 'de'));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('is undefined outside oidc-provider\'s middleware, before it, after it and between requests', async () => {
    expect(Provider.ctx).toBeUndefined();
    const koaCtx = { marker: 'ctx' };
    const outcome = await requestContext.run({ requestId: 'outer-0001' }, async () => {
      const before = Provider.ctx;
      const inside = await providerStorage.run(koaCtx, async () => {
        await sleep(1);
        // oidc-provider's own storage is never entered: the one store of the process holds it.
        return { ctx: Provider.ctx, reqId: currentRequestId(), ownStore: AsyncLocalStorage.prototype.getStore.call(providerStorage) };
      });
      await sleep(1);
      return { before, inside, after: Provider.ctx, reqIdAfter: currentRequestId() };
    });
    expect(outcome).toEqual({ before: undefined, inside: { ctx: koaCtx, reqId: 'outer-0001', ownStore: undefined }, after: undefined, reqIdAfter: 'outer-0001' });
    expect(Provider.ctx).toBeUndefined();
    expect(currentRequestId()).toBeUndefined();
  });

  it('gives oidc-provider\'s middleware a context of its own when no request context surrounds it', async () => {
    const koaCtx = { marker: 'bare' };
    const inside = await providerStorage.run(koaCtx, async () => { await sleep(1); return { ctx: Provider.ctx, reqId: currentRequestId(), locale: currentLocale() }; });
    expect(inside).toEqual({ ctx: koaCtx, reqId: undefined, locale: 'en' });
  });

  it('is carried once, however many providers the process makes', () => {
    const run = providerStorage.run;
    carryProviderContext(providerStorage as unknown as ProviderStorage);
    expect(providerStorage.run).toBe(run);
  });
});
