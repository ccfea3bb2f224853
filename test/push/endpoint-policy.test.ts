/**
 * The push-endpoint policy as a table (audit item 4, SSRF): which endpoints a device may register
 * and the IdP may POST to, which resolved addresses count as inward, and how PUSH_SERVICES reads.
 */
import { describe, expect, it } from '@jest/globals';
import { checkPushEndpoint, checkResolvedAddress, parsePushServices } from '../../src/push/endpoint-policy.js';
import { formatIp, inCidr, nonPublicRange, parseCidr, parseIp } from '../../src/net/ip.js';

const none = parsePushServices('');
const check = (endpoint: string, operator = none) => checkPushEndpoint(new URL(endpoint), operator);

describe('push endpoint policy: the browser vendors\' push services by default', () => {
  it.each([
    ['https://fcm.googleapis.com/fcm/send/abc:APA91b', 'known'], // Chrome (legacy path)
    ['https://fcm.googleapis.com/wp/abc', 'known'], // Chrome, Edge on Android
    ['https://updates.push.services.mozilla.com/wpush/v2/gAAAA', 'known'], // Firefox
    ['https://web.push.apple.com/QGx0', 'known'], // Safari
    ['https://wns2-par02p.notify.windows.com/w/?token=BQYAAA', 'known'], // Edge on Windows
    ['https://FCM.googleapis.com:443/wp/abc', 'known'], // case and the explicit default port
  ])('%s is allowed (%s)', (endpoint, source) => {
    expect(check(endpoint)).toEqual({ ok: true, source });
  });

  it.each([
    ['https://169.254.169.254/latest/meta-data/', /IP address \(link-local\)/],
    ['https://127.0.0.1:6379/', /IP address \(loopback\)/],
    ['https://[::1]/', /IP address \(loopback\)/],
    ['https://10.1.2.3/', /IP address \(private\)/],
    ['https://192.168.1.1/', /IP address \(private\)/],
    ['https://172.16.0.1/', /IP address \(private\)/],
    ['https://100.64.0.1/', /IP address \(shared \(CGNAT\)\)/],
    ['https://[fd00::1]/', /IP address \(unique local \(ULA\)\)/],
    ['https://[fe80::1]/', /IP address \(link-local\)/],
    ['https://[::ffff:127.0.0.1]/', /IP address \(loopback\)/], // IPv4-mapped
    ['https://[::ffff:a9fe:a9fe]/', /IP address \(link-local\)/], // mapped 169.254.169.254, hex form
    ['https://0.0.0.0/', /IP address \(unspecified\)/],
    ['https://[::]/', /IP address \(unspecified\)/],
    ['https://2130706433/', /IP address \(loopback\)/], // 127.0.0.1 as one number (WHATWG URL reads it)
    ['https://0x7f.1/', /IP address \(loopback\)/],
    ['https://224.0.0.1/', /IP address \(multicast\)/],
    ['https://8.8.8.8/', /an IP address, not a push service name/], // public, but no vendor hands out IPs
    ['https://push.example.com/x', /push\.example\.com is not a known push service/],
    ['https://fcm.googleapis.com.evil.example/x', /not a known push service/],
    ['https://evilfcm.googleapis.com/x', /not a known push service/],
    ['https://a.b.push.apple.com/x', /not a known push service/], // a wildcard is one label
    ['https://push.apple.com/x', /not a known push service/], // and not the bare domain
    ['https://fcm.googleapis.com./wp/x', /not a push service host name/],
    ['https://fcm.googleapis.com:8443/wp/x', /port 8443 is not allowed/],
    ['http://fcm.googleapis.com/wp/x', /not https/],
    ['https://user:pw@fcm.googleapis.com/wp/x', /credentials/],
    ['https://user@fcm.googleapis.com/wp/x', /credentials/],
    ['https://fcm.googleapis.com/wp/x%00y', /control character/],
    ['https://fcm.googleapis.com/wp/x\u0000y', /control character/], // WHATWG URL percent-encodes it
    ['https://fcm.googleapis.com/wp/x%0D%0AHost:%20evil', /control character/],
    ['https://fcm.googleapis.com/wp/x?a=%7F', /control character/],
  ])('%s is refused', (endpoint, reason) => {
    const verdict = check(endpoint);
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.reason).toMatch(reason);
  });
});

describe('push endpoint policy: an operator\'s PUSH_SERVICES', () => {
  const operator = parsePushServices('127.0.0.1:8443, push.corp.example, *.push.example.net:9443, [fd00::7]:8443');

  it.each([
    ['https://127.0.0.1:8443/push/x'],
    ['https://push.corp.example/p'],
    ['https://eu.push.example.net:9443/p'],
    ['https://[fd00::7]:8443/p'],
    ['https://fcm.googleapis.com/wp/x'], // the vendors stay allowed
  ])('%s is allowed', (endpoint) => {
    expect(check(endpoint, operator).ok).toBe(true);
  });

  it.each([
    ['https://127.0.0.1:6379/', /IP address \(loopback\)/], // only the listed port
    ['https://127.0.0.1/', /IP address \(loopback\)/],
    ['https://push.corp.example:8443/p', /port 8443 is not allowed/],
    ['https://eu.push.example.net/p', /not a known push service/], // its port is 9443
    ['https://push.example.net:9443/p', /port 9443 is not allowed/], // the wildcard needs a label
    ['http://127.0.0.1:8443/push/x', /not https/],
  ])('%s is refused', (endpoint, reason) => {
    const verdict = check(endpoint, operator);
    expect(!verdict.ok && verdict.reason).toMatch(reason);
  });

  it('gives the source, so only a vendor\'s name has its addresses judged', () => {
    expect(check('https://push.corp.example/p', operator)).toEqual({ ok: true, source: 'operator' });
    expect(check('https://web.push.apple.com/p', operator)).toEqual({ ok: true, source: 'known' });
  });

  it.each([
    ['*.10.0.0.1', /wildcard needs a host name/],
    ['*.com', /at least two labels/],
    ['push.example.com/path', /nothing else/],
    ['user@push.example.com', /nothing else/],
    ['push.example.com:99999', /not a host\[:port\]/],
    ['push.example.com.', /trailing dot/],
    ['[::1', /not a host\[:port\]/],
  ])('refuses the entry %s', (entry, message) => {
    expect(() => parsePushServices(entry)).toThrow(message);
  });
});

describe('resolved addresses of a vendor\'s push service', () => {
  it.each([
    ['142.250.74.170', true],
    ['2a00:1450:4001:82b::200a', true],
    ['64:ff9b::8efa:4aaa', true], // NAT64 of a public address
    ['127.0.0.1', false], ['127.8.9.10', false], ['10.0.0.1', false], ['172.31.255.255', false],
    ['192.168.0.10', false], ['169.254.169.254', false], ['100.100.100.200', false], ['0.0.0.0', false],
    ['255.255.255.255', false], ['239.1.1.1', false], ['198.18.0.1', false],
    ['::1', false], ['::', false], ['fd12:3456::1', false], ['fe80::1%eth0', false], ['ff02::1', false],
    ['::ffff:127.0.0.1', false], ['::ffff:10.0.0.1', false], ['64:ff9b::a9fe:a9fe', false],
    ['2002:7f00:1::1', false], ['2001:0:4136:e378::1', false], ['::127.0.0.1', false],
    ['not-an-ip', false],
  ])('%s is public: %s', (address, ok) => {
    expect(checkResolvedAddress(address).ok).toBe(ok);
  });
});

describe('IP parsing', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'], ['::ffff:127.0.0.1', '127.0.0.1'], ['[2001:db8::1]', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], ['::', '::'], ['1::', '1::'],
    ['fe80::1:0:0:1', 'fe80::1:0:0:1'],
  ])('%s reads as %s', (text, canonical) => {
    expect(formatIp(parseIp(text)!)).toBe(canonical);
  });

  it.each(['256.0.0.1', '1.2.3', '01.2.3.4', '1:2:3:4:5:6:7:8:9', '1::2::3', 'g::1', '', 'localhost', '1.2.3.4/8'])('%s is not an address', (text) => {
    expect(parseIp(text)).toBeNull();
  });

  it('matches ranges, mapped addresses as IPv4', () => {
    expect(inCidr(parseIp('10.20.30.40')!, parseCidr('10.0.0.0/8')!)).toBe(true);
    expect(inCidr(parseIp('::ffff:10.20.30.40')!, parseCidr('10.0.0.0/8')!)).toBe(true);
    expect(inCidr(parseIp('11.0.0.1')!, parseCidr('10.0.0.0/8')!)).toBe(false);
    expect(inCidr(parseIp('fd00::5')!, parseCidr('fd00::/8')!)).toBe(true);
    expect(inCidr(parseIp('10.0.0.1')!, parseCidr('fd00::/8')!)).toBe(false);
    expect(parseCidr('10.0.0.0/33')).toBeNull();
    expect(nonPublicRange(parseIp('8.8.8.8')!)).toBeNull();
  });
});
