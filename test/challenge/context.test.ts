import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { browserSummary, geoIpFromBuffer, GeoIpDatabaseError, openGeoIp } from '../../src/challenge/context.js';
import { buildMmdb, cityRecord } from '../support/challenge-mmdb.js';

describe('browserSummary', () => {
  const cases: Array<[string, string]> = [
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'Chrome on Linux'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', 'Safari on iPhone'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0', 'Firefox on Windows'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0', 'Edge on Windows'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15', 'Safari on macOS'],
    ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36', 'Chrome on Android'],
    ['Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1', 'Chrome on iPad'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0', 'Opera on Windows'],
    ['Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'Chrome on ChromeOS'],
    ['curl/8.5.0', 'Unknown browser'],
    ['', 'Unknown browser'],
  ];
  it.each(cases)('%s -> %s', (ua, expected) => expect(browserSummary(ua)).toBe(expected));

  it('copes with a missing header and never echoes the header text', () => {
    expect(browserSummary(undefined)).toBe('Unknown browser');
    expect(browserSummary(null)).toBe('Unknown browser');
    expect(browserSummary('Approve this, it is your bank (Windows)')).toBe('Unknown browser on Windows');
  });
});

describe('GeoIP', () => {
  const db = buildMmdb([
    ['81.2.69.0', 24, cityRecord('United Kingdom', 'London')],
    ['2.125.160.0', 24, cityRecord('United Kingdom')],
    // A database that wrongly places a private range: our lookup must not say so.
    ['10.0.0.0', 8, cityRecord('Nowhere', 'Private')],
  ]);

  it('gives "City, Country", or "Country" alone, from a MaxMind database', async () => {
    const geo = await geoIpFromBuffer(db);
    expect(geo.lookup('81.2.69.142')).toBe('London, United Kingdom');
    expect(geo.lookup('::ffff:81.2.69.142')).toBe('London, United Kingdom');
    expect(geo.lookup('2.125.160.216')).toBe('United Kingdom');
    expect(geo.lookup('81.2.70.1')).toBeNull();
  });

  it('gives null for private, loopback and malformed addresses', async () => {
    const geo = await geoIpFromBuffer(db);
    for (const ip of ['10.1.2.3', '127.0.0.1', '::1', '192.168.1.1', 'fe80::1', 'not-an-ip', '']) {
      expect(geo.lookup(ip)).toBeNull();
    }
  });

  it('opens a database file by path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'challenge-geoip-'));
    try {
      const path = join(dir, 'tiny.mmdb');
      await writeFile(path, db);
      expect((await openGeoIp(path)).lookup('81.2.69.142')).toBe('London, United Kingdom');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails with a clear error when the configured file is missing, and gives null without one', async () => {
    const missing = '/nonexistent/GeoLite2-City.mmdb';
    await expect(openGeoIp(missing)).rejects.toThrow(GeoIpDatabaseError);
    await expect(openGeoIp(missing)).rejects.toThrow(missing);
    expect((await openGeoIp(null)).lookup('81.2.69.142')).toBeNull();
  });
});
