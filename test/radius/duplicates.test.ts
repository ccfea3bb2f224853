import { describe, expect, it } from '@jest/globals';
import { createDuplicateCache, duplicateKey } from '../../src/radius/duplicates.js';

/** RFC 5080 2.2.2 duplicate detection, bounded: what a retransmitting NAS gets back. */
describe('RADIUS duplicate cache', () => {
  const clock = () => { let t = 0; return { now: () => t, advance: (ms: number) => { t += ms; } }; };
  const key = (id: number) => duplicateKey('192.0.2.1', 1812, id, Buffer.alloc(16, id));

  it('a copy while the first is answered is dropped; after it, the same reply is sent again', () => {
    const c = clock();
    const cache = createDuplicateCache({ max: 10, ttlMs: 1000, now: c.now });
    const first = cache.lookup(key(1));
    if (first.kind !== 'new') throw new Error('expected new');
    expect(cache.lookup(key(1)).kind).toBe('in-progress');
    first.done(Buffer.from('reply'));
    expect(cache.lookup(key(1))).toEqual({ kind: 'answered', reply: Buffer.from('reply') });
    expect(cache.lookup(key(2)).kind).toBe('new');
  });

  it('a request left unanswered (trouble on our side) may be tried again', () => {
    const cache = createDuplicateCache({ max: 10, ttlMs: 1000, now: () => 0 });
    const first = cache.lookup(key(1));
    if (first.kind !== 'new') throw new Error('expected new');
    first.done(null);
    expect(cache.lookup(key(1)).kind).toBe('new');
  });

  it('forgets answers after the TTL, and never holds more than its bound', () => {
    const c = clock();
    const cache = createDuplicateCache({ max: 3, ttlMs: 1000, now: c.now });
    const a = cache.lookup(key(1));
    if (a.kind === 'new') a.done(Buffer.from('a'));
    c.advance(1001);
    expect(cache.lookup(key(1)).kind).toBe('new');
    for (let i = 10; i < 100; i++) {
      const e = cache.lookup(key(i));
      if (e.kind === 'new') e.done(Buffer.from([i]));
      expect(cache.size).toBeLessThanOrEqual(3);
    }
    expect(cache.lookup(key(99))).toEqual({ kind: 'answered', reply: Buffer.from([99]) });
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
