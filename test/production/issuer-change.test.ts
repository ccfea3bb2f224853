import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { issuerChangeWarning } from '../../src/keys/issuer-record.js';
import { createLogger } from '../../src/log.js';
import { freePort, freshSchemaUrl, startTestIdp, testRp, type TestIdpOptions } from '../support/idp.js';
import { uniquePrefix } from '../support/env.js';

/**
 * Red-team (processes): an instance restarted on the same database with another ISSUER started
 * without a word, then refused every enrolled phone (`401 wrong aud`) while it still sent pushes.
 * The start now warns, once per change, naming both issuers and what it breaks.
 */
describe('a changed ISSUER on the same database', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'idp-issuer-change-'));
  let drop: (() => Promise<void>) | undefined;
  afterAll(async () => { await drop?.(); rmSync(dataDir, { recursive: true, force: true }); });

  it('what the warning says (pure)', () => {
    expect(issuerChangeWarning('https://idp.example.com', 'https://idp.example.com')).toBeNull();
    expect(issuerChangeWarning('https://idp.example.com', 'https://login.example.com')).toMatch(/^ISSUER changed from https:\/\/idp\.example\.com to https:\/\/login\.example\.com: phones enrolled under the old issuer .* enrolled again/);
  });

  it('the start warns when ISSUER differs from the one the database served under, and only then', async () => {
    const schema = await freshSchemaUrl();
    drop = schema.drop;
    const port = await freePort();
    const base: TestIdpOptions = { storage: 'postgres', schema: schema.schema, dataDir, redisPrefix: uniquePrefix('iss'), clients: [testRp()] };
    const startLogging = async (issuer: string) => {
      const out = new PassThrough();
      const lines: string[] = [];
      out.on('data', (b: Buffer) => lines.push(...b.toString('utf8').split('\n').filter(Boolean)));
      const t = await startTestIdp({ ...base, port, env: { ISSUER: issuer }, idp: { logger: createLogger('warn', out) } });
      await t.stop();
      return lines.map((l) => JSON.parse(l) as { msg?: string }).filter((l) => /ISSUER changed/.test(l.msg ?? ''));
    };
    expect(await startLogging(`http://127.0.0.1:${port}`)).toEqual([]);
    expect(await startLogging(`http://127.0.0.1:${port}`)).toEqual([]);
    const changed = await startLogging(`http://localhost:${port}`);
    expect(changed).toHaveLength(1);
    expect(changed[0]!.msg).toContain(`from http://127.0.0.1:${port} to http://localhost:${port}`);
    expect(await startLogging(`http://localhost:${port}`)).toEqual([]);
  }, 120_000);
});
