/**
 * The operator's push settings (audit item 4): PUSH_SERVICES and PUSH_CA are read at start, and a
 * bad value stops the start naming the setting, rather than leaving pushes to fail one by one.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { ConfigError, loadSettings } from '../../src/config/settings.js';
import { pushTrustStore } from '../../src/push/trust-store.js';
import { startPushService } from '../support/push-service.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'push-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('PUSH_SERVICES', () => {
  it('reads hosts, ports and wildcards', () => {
    expect(loadSettings({ PUSH_SERVICES: 'push.corp.example, *.push.example.net:8443, 127.0.0.1:9443' }, dir).pushServices).toEqual([
      { host: 'push.corp.example', wildcard: false, port: 443 },
      { host: 'push.example.net', wildcard: true, port: 8443 },
      { host: '127.0.0.1', wildcard: false, port: 9443 },
    ]);
    expect(loadSettings({}, dir).pushServices).toEqual([]);
  });

  it('stops the start on a bad entry, naming it', () => {
    expect(() => loadSettings({ PUSH_SERVICES: 'push.example.com/x' }, dir)).toThrow(/^environment: PUSH_SERVICES: "push\.example\.com\/x"/);
  });
});

describe('PUSH_CA', () => {
  it('adds the file\'s certificates to Node\'s roots (the vendors\' services keep working)', async () => {
    const service = await startPushService();
    try {
      const file = service.env().PUSH_CA;
      expect(loadSettings({ PUSH_CA: file }, dir).pushCa).toBe(file);
      const ca = pushTrustStore(file)!;
      expect(ca.length).toBe(tls.rootCertificates.length + 1);
      expect(ca).toEqual(expect.arrayContaining([...tls.rootCertificates]));
    } finally {
      await service.close();
    }
    expect(pushTrustStore(null)).toBeUndefined();
  });

  it.each([
    ['a missing file', path.join(dir, 'missing.pem'), /PUSH_CA: cannot read/],
    ['a file without a certificate', 'junk.pem', /PUSH_CA: .* holds no PEM certificate/],
    ['a certificate that does not parse', 'broken.pem', /PUSH_CA: .* does not parse/],
  ])('stops the start on %s', (_what, name, message) => {
    writeFileSync(path.join(dir, 'junk.pem'), 'not a certificate\n');
    writeFileSync(path.join(dir, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const file = path.resolve(dir, name);
    expect(() => pushTrustStore(file)).toThrow(ConfigError);
    expect(() => pushTrustStore(file)).toThrow(message);
  });
});
