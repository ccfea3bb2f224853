/**
 * Many sign-ins parked on the waiting page at once (benchmarks 2 and 5): each account signs in up
 * to the waiting page on a given IdP process, and its phone learns the challenge (id, nonce) from
 * the device API, ready to answer later.
 */
import type http from 'node:http';
import type { BenchPhone } from './signin.js';
import { signInToWaitingPage, type Waiting } from './signin.js';
import { log, pool } from './report.js';
import { PASSWORD } from './world.js';

export interface Parked {
  index: number;
  phone: BenchPhone;
  waiting: Waiting;
  /** Where the waiting page lives (its long-poll goes there). */
  home: string;
  cid: string;
  nonce: string;
}

export async function parkSignIns(opts: {
  agent: http.Agent;
  issuer: string;
  phones: BenchPhone[];
  home: (index: number) => string;
  concurrency?: number;
  label?: string;
}): Promise<Parked[]> {
  const t0 = performance.now();
  let done = 0;
  const parked = await pool(opts.phones, opts.concurrency ?? 12, async (phone, index) => {
    const home = opts.home(index);
    const waiting = await signInToWaitingPage(opts.agent, opts.issuer, home, phone.username, PASSWORD);
    // The phone's view: exactly one pending request for this account.
    let pending = await phone.phone.pending();
    for (let tries = 0; pending.length !== 1 && tries < 20; tries++) {
      await new Promise((r) => setTimeout(r, 50));
      pending = await phone.phone.pending();
    }
    if (pending.length !== 1) throw new Error(`${phone.username}: ${pending.length} pending challenges, expected 1`);
    done++;
    if (done % 250 === 0) log(`${opts.label ?? 'park'}: ${done}/${opts.phones.length} sign-ins on the waiting page`);
    return { index, phone, waiting, home, cid: pending[0]!.id, nonce: pending[0]!.nonce };
  });
  log(`${opts.label ?? 'park'}: ${parked.length} sign-ins parked in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return parked;
}
