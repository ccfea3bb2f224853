import { describe, expect, it } from '@jest/globals';
import { RedisCopies } from '../../src/oidc/redis-copies.js';

/** Which sessions may have an anonymous copy in Redis (src/oidc/redis-copies.ts): never a copy missed. */
describe('RedisCopies', () => {
  const clock = () => {
    let t = 1_000;
    return { now: () => t, advance: (ms: number) => { t += ms; } };
  };

  it('knows a noted id until its copy has lapsed, and none other', () => {
    const c = clock();
    const copies = new RedisCopies(c.now, 600_000);
    copies.note('a');
    expect(copies.mayExist('a')).toBe(true);
    expect(copies.mayExist('b')).toBe(false);
    c.advance(599_999);
    expect(copies.mayExist('a')).toBe(true);
    c.advance(1);
    expect(copies.mayExist('a')).toBe(false);
  });

  it('a copy written again lives from then; one deleted is forgotten', () => {
    const c = clock();
    const copies = new RedisCopies(c.now, 600_000);
    copies.note('a');
    c.advance(500_000);
    copies.note('b');
    copies.note('a');
    c.advance(200_000);
    copies.note('c'); // prunes nothing still alive
    expect(copies.mayExist('a')).toBe(true);
    expect(copies.mayExist('b')).toBe(true);
    copies.forget('a');
    expect(copies.mayExist('a')).toBe(false);
    c.advance(500_000);
    copies.note('d');
    expect(copies.size).toBe(2); // b lapsed and was pruned
  });

  it('past its limit it forgets the ids but answers "may exist" for every id until the last copy lapsed', () => {
    const c = clock();
    const copies = new RedisCopies(c.now, 600_000, 3);
    for (const id of ['a', 'b', 'c']) copies.note(id);
    copies.note('d');
    expect(copies.size).toBe(1);
    for (const id of ['a', 'b', 'c', 'd', 'never-seen']) expect(copies.mayExist(id)).toBe(true);
    c.advance(600_000);
    expect(copies.mayExist('never-seen')).toBe(false);
    expect(copies.mayExist('a')).toBe(false);
  });
});
