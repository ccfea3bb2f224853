import type { Redis } from '../storage/redis.js';

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

export interface AgentTransactionStore {
  put(id: string, tx: AgentTransaction, ttlSeconds: number): Promise<void>;
  get(id: string): Promise<AgentTransaction | null>;
  /** True for the one caller that removed it (a final answer is given once). */
  take(id: string): Promise<boolean>;
}

const key = (id: string) => `agent:tx:{${id}}`;

export function createAgentTransactionStore(redis: Redis): AgentTransactionStore {
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
  };
}
