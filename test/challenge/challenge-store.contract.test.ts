import { challengeStoreContract } from '../support/challenge-store-contract.js';
import { openTestRedis } from '../support/challenge-redis.js';

challengeStoreContract('real Redis', () => openTestRedis('real', 'ch-contract'));
challengeStoreContract('in-process stand-in (ioredis-mock)', () => openTestRedis('stand-in', 'ch-contract'));
