import { describe, expect, it } from '@jest/globals';
import { createDuplicateCache, duplicateKey } from '../../src/radius/duplicates.js';

/** RFC 5080 2.2.2 duplicate detection, bounded: what a retransmitting NAS gets back. */
describe('RADIUS duplicate cache', () => {
  const clock = () => { let t = 0; return { now: () => t, advance: (ms: number) => { t += ms; } }; };
  const key = (id: number) => duplicateKey('192.0.2.1', 1812, id, Buffer.alloc(16, id));

  it('a copy while the first is answered is dropped; after it, the same reply is sent again', () => {
    const c = clock();
    const cache = createDuplicateCache({ max: 10, ttlMs: 1000, now: c.now });
    const first = cache.lookup('nas', key(1));
    if (first.kind !== 'new') throw new Error('expected new');
    expect(cache.lookup('nas', key(1)).kind).toBe('in-progress');
    first.done(Buffer.from('reply'));
    expect(cache.lookup('nas', key(1))).toEqual({ kind: 'answered', reply: Buffer.from('reply') });
    expect(cache.lookup('nas', key(2)).kind).toBe('new');
  });

  it('a request left unanswered (trouble on our side) may be tried again', () => {
    const cache = createDuplicateCache({ max: 10, ttlMs: 1000, now: () => 0 });
    const first = cache.lookup('nas', key(1));
    if (first.kind !== 'new') throw new Error('expected new');
    first.done(null);
    expect(cache.lookup('nas', key(1)).kind).toBe('new');
  });

  it('forgets answers after the TTL, and never holds more than its bound', () => {
    const c = clock();
    const cache = createDuplicateCache({ max: 3, ttlMs: 1000, now: c.now });
    const a = cache.lookup('nas', key(1));
    if (a.kind === 'new') a.done(Buffer.from('a'));
    c.advance(1001);
    const again = cache.lookup('nas', key(1));
    expect(again.kind).toBe('new');
    if (again.kind === 'new') again.done(Buffer.from('a again'));
    for (let i = 10; i < 100; i++) {
      const e = cache.lookup('nas', key(i));
      if (e.kind === 'new') e.done(Buffer.from([i]));
      expect(cache.size).toBeLessThanOrEqual(3);
    }
    expect(cache.lookup('nas', key(99))).toEqual({ kind: 'answered', reply: Buffer.from([99]) });
  });

  it('a request being answered never makes way for others, however many are answered meanwhile', () => {
    const c = clock();
    const cache = createDuplicateCache({ max: 3, ttlMs: 60_000, now: c.now });
    const held = cache.lookup('nas', key(1));
    if (held.kind !== 'new') throw new Error('expected new');
    for (let i = 10; i < 1000; i++) {
      const e = cache.lookup('nas', key(i));
      if (e.kind === 'new') e.done(Buffer.from([i % 256]));
      c.advance(1);
    }
    expect(cache.lookup('nas', key(1)).kind).toBe('in-progress');
    held.done(Buffer.from('held'));
    expect(cache.lookup('nas', key(1))).toEqual({ kind: 'answered', reply: Buffer.from('held') });
    expect(cache.size).toBeLessThanOrEqual(3);
  });

  it('each NAS has its own share: another NAS\'s requests do not push out its answers', () => {
    const cache = createDuplicateCache({ max: 3, ttlMs: 60_000, now: () => 0 });
    const mine = cache.lookup('vpn', key(1));
    if (mine.kind === 'new') mine.done(Buffer.from('vpn reply'));
    for (let i = 10; i < 100; i++) {
      const e = cache.lookup('wifi', key(i));
      if (e.kind === 'new') e.done(Buffer.from([i]));
    }
    expect(cache.lookup('vpn', key(1))).toEqual({ kind: 'answered', reply: Buffer.from('vpn reply') });
    expect(cache.lookup('wifi', key(1)).kind).toBe('new'); // the same packet from another NAS is its own
    expect(cache.size).toBeLessThanOrEqual(3 + 3 + 1);
  });

  it('keys on source address, port, Identifier and Request Authenticator', () => {
    const auth = Buffer.alloc(16, 1);
    const keys = new Set([
      duplicateKey('192.0.2.1', 1000, 1, auth), duplicateKey('192.0.2.2', 1000, 1, auth), duplicateKey('192.0.2.1', 1001, 1, auth),
      duplicateKey('192.0.2.1', 1000, 2, auth), duplicateKey('192.0.2.1', 1000, 1, Buffer.alloc(16, 2)),
    ]);
    expect(keys.size).toBe(5);
  });
});
