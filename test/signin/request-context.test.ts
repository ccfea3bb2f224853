import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildMmdb, cityRecord } from '../support/challenge-mmdb.js';
import { PushWorld } from '../support/push-world.js';
import { enroll, newestChallenge, startWorld } from './helpers.js';

/**
 * What the phone shows must help the user spot a sign-in that is not theirs: the app, the
 * requester's IP (from the trusted proxy), the place from the GeoIP database, and the browser.
 */
describe('request context on the phone', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'geoip-'));
  const db = path.join(dir, 'city.mmdb');
  let w: PushWorld;
  beforeAll(async () => {
    writeFileSync(db, buildMmdb([['81.2.69.0', 24, cityRecord('United Kingdom', 'London')]]));
    w = await startWorld({ idp: { env: { GEOIP_DB: db, TRUST_PROXY: '1' } } });
  });
  afterAll(async () => { await w.close(); rmSync(dir, { recursive: true, force: true }); });

  it('shows the app, the client IP the proxy saw (last X-Forwarded-For entry), its city and the browser', async () => {
    const { phone, subscription } = await enroll(w);
    const { browser, next } = await w.startSignIn();
    // The client wrote 203.0.113.77; the one trusted proxy appended the address it saw.
    const headers = { 'x-forwarded-for': '203.0.113.77, 81.2.69.142', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36' };
    const csrf = next.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    const uid = next.url.match(/\/interaction\/([^/]+)/)![1]!;
    await browser.go(`/interaction/${uid}/push`, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}` });
    const message = await w.pushService.waitForMessage(subscription!.id);
    expect(message.payload).toMatchObject({ app: 'Test RP', ip: '81.2.69.142', location: 'London, United Kingdom', browser: 'Chrome on Linux' });
    expect((message.payload as { body: string }).body).toContain('London');
    const seen = await newestChallenge(phone);
    expect(seen).toMatchObject({ app: 'Test RP', ip: '81.2.69.142', location: 'London, United Kingdom', browser: 'Chrome on Linux' });
  });
});
