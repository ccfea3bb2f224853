import Router, { type RouterContext, type RouterMiddleware } from '@koa/router';
import type { AccountRecord, AccountStore } from '../accounts/store.js';
import { firstFactorEnded } from '../signin/finish.js';
import type { AgentRegistration } from '../config/agents.js';
import { newSignInId, type SignIn, type SignInRef, type Started } from '../signin/index.js';
import { identifyAgent } from './client-auth.js';
import { AgentError, invalidClient } from './errors.js';
import { envelope, readJsonObject, type ErrorLog } from './http.js';
import { fromPasscode, fromPassword, fromPush, fromWait, signInGone, timedOut, type Outcome } from './outcome.js';
import { parseAuthenticate, parseWaitQuery, TRANSACTION_ID } from './request.js';
import type { AgentTransaction, AgentTransactionStore, FinalAnswer } from './transactions.js';

/**
 * The agent API (docs/agent-api.md): gateways that hold a username, a password and a passcode
 * (VPN, RADIUS front ends, CLIs) sign users in through the sign-in core, as the login page does:
 * same throttles, lockouts, push-fatigue limits and audit. This door authenticates the gateway,
 * reads JSON, and translates the core's results (outcome.ts); it decides nothing itself.
 */
export interface AgentApiDeps {
  signin: SignIn;
  accounts: Pick<AccountStore, 'findById'>;
  agents: readonly AgentRegistration[];
  transactions: AgentTransactionStore;
  log: ErrorLog & { warn(obj: object, msg?: string): void };
  /** How long a sign-in and its transaction live: the push request's life and a margin. */
  transactionTtlSeconds: number;
}

export const AGENT_API_PATH = '/api/agent';

interface AgentState {
  agent: AgentRegistration;
}
type Ctx = RouterContext<AgentState>;
type Step = RouterMiddleware<AgentState>;

const FALLBACK = 'agent-api-fallback';


const notFound = () => new AgentError('not_found', 404, 'no such transaction');

/**
 * How long a transaction's final answer is kept after it was given: a poll that retries after
 * losing it (its HTTP client timed out) or that ran beside the one that got it gets the same
 * answer (red-team: two polls of an approved transaction got 404 and "expired", and the approval
 * was lost). Afterwards the transaction is gone (404).
 */
export const FINAL_KEPT_SECONDS = 30;
/** Beyond its own wait, how long a poll's turn lasts at most (reading, finishing, answering). */
const TURN_MARGIN_MS = 30_000;

/**
 * Pure: why an approval no longer stands when it is given, or null: the account is gone or
 * disabled, or its sessions were ended after the sign-in's first factor (firstFactorEnded).
 */
function approvalVoid(account: Pick<AccountRecord, 'disabled' | 'sessionsEndedAt'> | null, firstFactorAt: number): AgentError | null {
  if (!account) return new AgentError('access_denied', 403, 'the account is no longer there');
  if (account.disabled) return new AgentError('access_denied', 403, 'the account is disabled');
  if (firstFactorEnded(firstFactorAt, account.sessionsEndedAt ?? null)) {
    return new AgentError('access_denied', 403, 'the account\'s sessions were ended after this sign-in began (a device revoked, a sign-out everywhere)');
  }
  return null;
}

function give(ctx: Ctx, final: FinalAnswer): void {
  ctx.status = final.status;
  for (const [name, value] of Object.entries(final.headers ?? {})) ctx.set(name, value);
  ctx.body = final.body;
}

export function createAgentApi(deps: AgentApiDeps): Router<AgentState> {
  const { signin } = deps;

  const authenticated: Step = async (ctx, next) => {
    const agent = identifyAgent(ctx.get('authorization'), deps.agents, ctx.ip);
    if (!agent) {
      // Logged, not audited: anyone can send these, and each would otherwise be a database write.
      deps.log.warn({ ip: ctx.ip, path: ctx.path }, 'agent API: gateway authentication failed');
      throw invalidClient();
    }
    ctx.state.agent = agent;
    await next();
  };

  const refOf = (agent: AgentRegistration, tx: AgentTransaction): SignInRef => ({
    id: tx.signInId,
    requester: { ip: tx.ip, userAgent: tx.userAgent, app: { clientId: agent.id, name: agent.name, policy: agent.policy } },
    ttlSeconds: deps.transactionTtlSeconds,
  });

  /** A final outcome ends the sign-in (a push still on the phone stands for nothing); pending is a 202. */
  async function answer(ctx: Ctx, signInId: string, outcome: Outcome): Promise<void> {
    const { agent } = ctx.state;
    if (outcome.kind === 'pending') {
      ctx.status = 202;
      // The transaction id is the sign-in id (transactions.ts binds it to this gateway).
      ctx.body = { status: 'pending', transaction_id: signInId, match_number: outcome.matchNumber, expires_in: outcome.secondsLeft };
      return;
    }
    if (outcome.kind === 'refused') {
      await signin.cancel(signInId, agent.id);
      throw outcome.error;
    }
    const account = await deps.accounts.findById(outcome.login.accountId);
    const gone = approvalVoid(account, outcome.login.firstFactorAt);
    if (gone) throw gone;
    ctx.status = 200;
    ctx.body = {
      status: 'approved',
      account: { id: account!.id, username: account!.username }, // approvalVoid refused a missing one
      amr: outcome.login.amr,
      acr: outcome.login.acr,
    };
  }

  const authenticate = async (ctx: Ctx) => {
    const { agent } = ctx.state;
    const input = parseAuthenticate(await readJsonObject(ctx));
    const tx: AgentTransaction = {
      agentId: agent.id, signInId: newSignInId(), ip: input.clientIp ?? ctx.ip, userAgent: ctx.get('user-agent').slice(0, 200),
    };
    const ref = refOf(agent, tx);
    const result = await signin.password(ref, { username: input.username, password: input.password, passcode: input.passcode });
    if (result.kind === 'passcode') return answer(ctx, ref.id, fromPasscode(result.passcode));
    if (result.kind !== 'push') return answer(ctx, ref.id, fromPassword(result));
    const pushed = fromPush(result.push);
    if (pushed.kind !== 'push-sent') return answer(ctx, ref.id, pushed);

    await deps.transactions.put(ref.id, tx, deps.transactionTtlSeconds);
    const state = await signin.state(ref.id);
    if (!state) return settle(ctx, ref.id, signInGone());
    const started: Started = { ...ref, state };
    const now = fromWait(await signin.wait(started));
    // With a number to match, the gateway must show it while the user looks at the phone: it gets
    // the transaction at once, whatever the mode. So does `wait: 0`, a wait of nothing: a poll (red-team:
    // it rang the phone and withdrew the push at once, a request no one could approve).
    if (now.kind !== 'pending' || now.matchNumber !== null || input.mode === 'poll' || input.waitSeconds === 0) return settle(ctx, ref.id, now);
    const seconds = Math.min(input.waitSeconds ?? agent.maxWaitSeconds, agent.maxWaitSeconds);
    // A gateway that hangs up has given up: the push stops standing for anything at once.
    const hungUp = () => { if (!ctx.res.writableFinished) void signin.cancel(ref.id, agent.id).catch(() => undefined); };
    ctx.res.once('close', hungUp);
    // It may have hung up already, while the push was going out: 'close' was then before the listener.
    if (ctx.res.destroyed || ctx.req.socket.destroyed) hungUp();
    try {
      const later = fromWait(await signin.waitAtMost(started, seconds * 1000));
      return await settle(ctx, ref.id, later.kind === 'pending' ? timedOut() : later);
    } finally {
      ctx.res.off('close', hungUp);
    }
  };

  /**
   * Answers for a transaction. A final answer is kept (FINAL_KEPT_SECONDS) and the transaction
   * taken: of polls that finish it at once, the first answer kept is every one's answer.
   */
  async function settle(ctx: Ctx, txId: string, outcome: Outcome): Promise<void> {
    if (outcome.kind === 'pending') return answer(ctx, txId, outcome);
    let final: FinalAnswer;
    try {
      await answer(ctx, txId, outcome);
      final = { agentId: ctx.state.agent.id, status: ctx.status, body: ctx.body };
      if (outcome.kind === 'success') final.approved = { accountId: outcome.login.accountId, firstFactorAt: outcome.login.firstFactorAt };
    } catch (err) {
      if (!(err instanceof AgentError)) throw err;
      final = { agentId: ctx.state.agent.id, status: err.status, body: { error: err.code, error_description: err.description }, headers: err.headers };
    }
    const kept = await deps.transactions.keepFinal(txId, final, FINAL_KEPT_SECONDS);
    await deps.transactions.take(txId);
    give(ctx, kept);
  }

  /**
   * The final answer kept for this gateway's transaction, if one is (another gateway's reads as
   * absent). A kept approval is checked again each time it is given, as the browser's resume checks
   * a held result: once the account is disabled, or its sessions were ended after the sign-in began
   * (a device revoked, `user sign-out`), it becomes a refusal for good (red-team: a poll within the
   * 30 s an answer is kept still got `approved` after the revoke had finished).
   */
  async function keptFinal(id: string, agentId: string): Promise<FinalAnswer | null> {
    const final = TRANSACTION_ID.test(id) ? await deps.transactions.final(id) : null;
    if (!final || final.agentId !== agentId) return null;
    if (!final.approved) return final;
    const gone = approvalVoid(await deps.accounts.findById(final.approved.accountId), final.approved.firstFactorAt);
    if (!gone) return final;
    const refusal: FinalAnswer = { agentId, status: gone.status, body: { error: gone.code, error_description: gone.description } };
    await deps.transactions.replaceFinal(id, refusal);
    return refusal;
  }

  /** The transaction named in the path, if it is this gateway's; another gateway's reads as absent. */
  async function ownTransaction(ctx: Ctx): Promise<{ id: string; tx: AgentTransaction }> {
    const id = ctx.params.id ?? '';
    const tx = TRANSACTION_ID.test(id) ? await deps.transactions.get(id) : null;
    if (!tx || tx.agentId !== ctx.state.agent.id) throw notFound();
    return { id, tx };
  }

  const poll = async (ctx: Ctx) => {
    // The router answers HEAD with the GET route; a HEAD must not take a final answer nobody reads.
    if (ctx.method !== 'GET') throw new AgentError('method_not_allowed', 405, 'use GET', { Allow: 'GET, DELETE' });
    const { agent } = ctx.state;
    const seconds = Math.min(parseWaitQuery(ctx.query.wait), agent.maxWaitSeconds);
    const id = ctx.params.id ?? '';
    // Polls of one transaction take turns: one reads and finishes the sign-in, the others wait for
    // its answer (kept, FINAL_KEPT_SECONDS) or for their turn. Without turns, a poll that found the
    // sign-in just finished by another took it for lapsed, and its "expired" won (red-team).
    const turnMs = seconds * 1000 + TURN_MARGIN_MS;
    for (const until = Date.now() + turnMs; ;) {
      const given = await keptFinal(id, agent.id);
      if (given) return give(ctx, given);
      const tx = TRANSACTION_ID.test(id) ? await deps.transactions.get(id) : null;
      if (!tx || tx.agentId !== agent.id) {
        // Taken by the poll that finished it between the two reads: it kept its answer first (settle).
        const late = await keptFinal(id, agent.id);
        if (late) return give(ctx, late);
        throw notFound();
      }
      const release = await deps.transactions.pollTurn(id, turnMs);
      if (!release) {
        if (Date.now() > until) throw new AgentError('poll_in_progress', 409, 'another poll of this transaction is still running: poll one at a time');
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      try {
        const finished = await keptFinal(id, agent.id);
        if (finished) return give(ctx, finished);
        const state = await signin.state(tx.signInId);
        if (!state) return await settle(ctx, id, signInGone());
        const started: Started = { ...refOf(agent, tx), state };
        const result = seconds > 0 ? await signin.waitAtMost(started, seconds * 1000) : await signin.wait(started);
        return await settle(ctx, id, fromWait(result));
      } finally {
        await release();
      }
    }
  };

  const cancel = async (ctx: Ctx) => {
    const { id, tx } = await ownTransaction(ctx);
    await signin.cancel(tx.signInId, ctx.state.agent.id);
    await deps.transactions.take(id);
    ctx.status = 204;
  };

  const routes: Array<[method: 'get' | 'post' | 'delete', path: string, ...steps: Step[]]> = [
    ['post', `${AGENT_API_PATH}/authenticate`, authenticated, authenticate],
    ['get', `${AGENT_API_PATH}/transactions/:id`, authenticated, poll],
    ['delete', `${AGENT_API_PATH}/transactions/:id`, authenticated, cancel],
  ];
  const router = new Router<AgentState>();
  const edge = envelope(deps.log);
  for (const [method, path, ...steps] of routes) router[method](path, edge, ...steps);
  router.all(FALLBACK, `${AGENT_API_PATH}{/*rest}`, edge, notFoundOrNotAllowed(router));
  return router;
}

/** 405 with Allow when the path exists under another method, else 404; both as JSON errors. */
function notFoundOrNotAllowed(router: Router<AgentState>): Step {
  return async (ctx) => {
    const allowed = new Set(router.match(ctx.path, ctx.method).path
      .filter((layer) => layer.name !== FALLBACK)
      .flatMap((layer) => layer.methods));
    if (allowed.size === 0) throw new AgentError('not_found', 404, 'no such agent API endpoint');
    const allow = [...allowed].join(', ');
    if (ctx.method === 'OPTIONS') {
      ctx.set('Allow', allow);
      ctx.status = 204;
      return;
    }
    throw new AgentError('method_not_allowed', 405, `use ${allow}`, { Allow: allow });
  };
}
