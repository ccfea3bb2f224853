import { randomUUID } from 'node:crypto';
import type { Redis } from '../storage/redis.js';
import { redisScripts } from '../defences/redis-script.js';

/**
 * A push sign-in that a gateway polls (docs/agent-api.md, "Transactions"): which gateway started
 * it (no other may read it) and what the sign-in core needs to continue it (its sign-in id and the
 * requester as first seen). The sign-in's own progress stays in the core (signin/state.ts).
 */
export interface AgentTransaction {
  agentId: string;
  signInId: string;
  /** The end user's address as the gateway gave it, or the gateway's own. */
  ip: string;
  userAgent: string;
}

/** A transaction's final answer as it was given (status, body, headers), for the gateway that started it. */
export interface FinalAnswer {
  agentId: string;
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** For an approval: whose, and when its first factor began (the core's clock), to check it again each time it is given. */
  approved?: { accountId: string; firstFactorAt: number };
}

export interface AgentTransactionStore {
  put(id: string, tx: AgentTransaction, ttlSeconds: number): Promise<void>;
  get(id: string): Promise<AgentTransaction | null>;
  /** True for the one caller that removed it. */
  take(id: string): Promise<boolean>;
  /**
   * Keeps the first final answer of a transaction for `ttlSeconds` (SET NX) and returns the one
   * kept: this one, or the one another poll kept first. Every poll then gives the same answer.
   */
  keepFinal(id: string, answer: FinalAnswer, ttlSeconds: number): Promise<FinalAnswer>;
  /** The final answer kept for a transaction, if any. */
  final(id: string): Promise<FinalAnswer | null>;
  /** Replaces a kept final answer, keeping its time to live; nothing when none is kept. */
  replaceFinal(id: string, answer: FinalAnswer): Promise<void>;
  /** Takes the transaction's poll turn for `ms` (SET NX PX): one poll at a time reads and finishes its sign-in. Returns the release, or null when another poll holds it. */
  pollTurn(id: string, ms: number): Promise<(() => Promise<void>) | null>;
}

const key = (id: string) => `agent:tx:{${id}}`;
// The same hash tag: a Redis Cluster keeps both on one node.
const finalKey = (id: string) => `agent:tx:{${id}}:final`;
const turnKey = (id: string) => `agent:tx:{${id}}:poll`;

/**
 * SET ... KEEPTTL XX as a script: the stand-in (ioredis-mock) takes KEEPTTL as no expiry at all
 * (red-team: a voided approval's refusal was kept for ever instead of its 30 s).
 */
const REPLACE_KEEPING_TTL = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl) end
return ttl`;

export function createAgentTransactionStore(redis: Redis): AgentTransactionStore {
  const replaceKeepingTtl = redisScripts(redis)('agentReplaceFinal', REPLACE_KEEPING_TTL, 1);
  return {
    async put(id, tx, ttlSeconds) {
      await redis.set(key(id), JSON.stringify(tx), 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    },
    async get(id) {
      const raw = await redis.get(key(id));
      return raw ? (JSON.parse(raw) as AgentTransaction) : null;
    },
    async take(id) {
      return (await redis.del(key(id))) === 1;
    },
    async keepFinal(id, answer, ttlSeconds) {
      if ((await redis.set(finalKey(id), JSON.stringify(answer), 'EX', Math.max(1, Math.ceil(ttlSeconds)), 'NX')) === 'OK') return answer;
      const kept = await redis.get(finalKey(id));
      return kept ? (JSON.parse(kept) as FinalAnswer) : answer;
    },
    async final(id) {
      const raw = await redis.get(finalKey(id));
      return raw ? (JSON.parse(raw) as FinalAnswer) : null;
    },
    async replaceFinal(id, answer) {
      await replaceKeepingTtl(finalKey(id), JSON.stringify(answer));
    },
    async pollTurn(id, ms) {
      const token = randomUUID();
      if ((await redis.set(turnKey(id), token, 'PX', Math.max(1, Math.ceil(ms)), 'NX')) !== 'OK') return null;
      return async () => {
        // Only this poll's turn: one that outlived its time may have been taken by another since.
        if ((await redis.get(turnKey(id))) === token) await redis.del(turnKey(id));
      };
    },
  };
}
