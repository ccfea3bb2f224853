import { afterAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAdminCli } from '../support/admin-cli.js';
import { freePort, freshSchemaUrl } from '../support/idp.js';
import { uniquePrefix } from '../support/env.js';
import { PushWorld } from '../support/push-world.js';

/**
 * Secrets at rest: TOTP secrets are sealed with AES-256-GCM under a key id. An operator rotates the
 * key-encryption key, re-wraps with the CLI, retires the old key, and phones keep working.
 */
describe('key-encryption key rotation', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kek-'));
  const k1 = `k1:${randomBytes(32).toString('base64')}`;
  const k2 = `k2:${randomBytes(32).toString('base64')}`;
  let dropSchema: () => Promise<void> = async () => {};
  afterAll(async () => { rmSync(dataDir, { recursive: true, force: true }); await dropSchema(); });

  it('re-wraps every TOTP secret under the new key; the old key can then be removed', async () => {
    const schema = await freshSchemaUrl();
    dropSchema = schema.drop;
    const port = await freePort();
    const common = { storage: 'postgres' as const, schema: schema.schema, dataDir, port, redisPrefix: uniquePrefix('kek') };
    const first = await PushWorld.start({ idp: { ...common, env: { KEK: k1 } } });
    const { phone } = await first.enrollPhone({ push: false });
    const sealed = async (w: PushWorld) => (await w.t.idp.db.query<{ s: string }>('SELECT totp_secret_enc AS s FROM devices WHERE id = $1', [phone.deviceId]))[0]!.s;
    expect(await sealed(first)).toMatch(/^v1\.k1\./);
    expect(await sealed(first)).not.toContain(phone.totpSecret);
    await first.t.stop();
    await first.pushService.close();

    const cli = await runAdminCli(['secrets', 'rewrap'], { env: { DATABASE_URL: schema.url, DATA_DIR: dataDir, KEK: `${k2},${k1}` } });
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toContain('re-sealed 1 of 1');

    const second = await PushWorld.start({ idp: { ...common, env: { KEK: k2 } } });
    try {
      expect(await sealed(second)).toMatch(/^v1\.k2\./);
      const s = await second.startSignIn();
      const page = await s.browser.go(`/interaction/${s.uid}/passcode`);
      const done = await s.browser.submit(page.body, /\/passcode$/, { passcode: phone.currentTotp() });
      expect(done.url).toMatch(/\/cb\?code=/);
    } finally {
      await second.t.stop();
      await second.pushService.close();
    }
  });
});
