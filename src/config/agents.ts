import { z } from 'zod';
import { shownName } from './shown-name.js';
import { parseCidr, type Cidr } from '../net/ip.js';
import { loginPolicySchema, reservedClientId, type LoginPolicy } from './clients.js';
import { ConfigError } from './settings.js';
import { readJsonFolder } from './json-folder.js';

/**
 * Gateways (VPN concentrators, RADIUS front ends, CLIs) that call the agent API
 * (docs/agent-api.md), one file each under config/agents/*.json, validated at start.
 */
export interface AgentRegistration {
  file: string;
  /** Names the gateway in the audit trail and in its Basic credentials. */
  id: string;
  /** Shown on the phone as the app asking. */
  name: string;
  /** From the environment variable the file names; never in the file. */
  secret: string;
  /** The relying-app policy, as a client file's `login`; a gateway always posts the passcode with the password. */
  policy: LoginPolicy;
  /** The longest a call may wait for the phone, in seconds. */
  maxWaitSeconds: number;
  /** Where the gateway may call from; null: anywhere. */
  allowedNetworks: Cidr[] | null;
}

/** Long enough that guessing is hopeless (the same rule as client secrets, src/config/clients.ts). */
export const AGENT_SECRET_MIN_LENGTH = 32;
export const DEFAULT_MAX_WAIT_SECONDS = 30;
export const MAX_WAIT_SECONDS_LIMIT = 300;

const agentFile = z.strictObject({
  $comment: z.string().optional(),
  id: z.string().regex(/^[A-Za-z0-9._~-]{1,128}$/, 'must be 1-128 URL-safe characters'),
  name: shownName(100),
  secret_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must name an environment variable'),
  login: loginPolicySchema.optional(),
  max_wait_seconds: z.number().int().min(1).max(MAX_WAIT_SECONDS_LIMIT).default(DEFAULT_MAX_WAIT_SECONDS),
  allowed_networks: z.array(z.string()).min(1).optional(),
});

/** Validates one parsed gateway file. Throws ConfigError naming the file and the field. */
export function parseAgent(file: string, raw: unknown, env: NodeJS.ProcessEnv): AgentRegistration {
  const result = agentFile.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0]!;
      const field = [...issue.path, key].join('.');
      if (key === 'secret' || key === 'client_secret') throw new ConfigError(file, field, 'secrets never go in the file: put it in an environment variable and name that in secret_env');
      throw new ConfigError(file, field, 'unknown field (a typo?)');
    }
    throw new ConfigError(file, issue.path.join('.') || '(file)', issue.message);
  }
  const data = result.data;
  // A gateway's id is the app id of its sign-ins and audit events, in the OIDC clients' id space.
  const reserved = reservedClientId(data.id);
  if (reserved) throw new ConfigError(file, 'id', reserved);
  const secret = env[data.secret_env];
  if (!secret) throw new ConfigError(file, 'secret_env', `environment variable ${data.secret_env} is not set`);
  if (secret.length < AGENT_SECRET_MIN_LENGTH) throw new ConfigError(file, 'secret_env', `${data.secret_env} must be at least ${AGENT_SECRET_MIN_LENGTH} characters`);
  // RFC 9110 11.4 token68 (so it can travel as a Bearer credential), and Basic's separator cannot be in it.
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(secret)) throw new ConfigError(file, 'secret_env', `${data.secret_env} must use only A-Z a-z 0-9 - . _ ~ + / (and = at the end), as base64 or hex secrets do`);

  const rawLogin = (raw as { login?: Record<string, unknown> }).login ?? {};
  if (rawLogin.form === 'two-step') throw new ConfigError(file, 'login.form', 'a gateway posts the passcode with the password: use "single-form" or leave it out');
  if (rawLogin.autoPush !== undefined) throw new ConfigError(file, 'login.autoPush', 'a gateway sends a push when the passcode is left out: autoPush does not apply');
  const parsedLogin = data.login ?? loginPolicySchema.parse({});
  // A gateway stands in front of a network: without a device the password alone does not do,
  // unless the file says so.
  const policy: LoginPolicy = { ...parsedLogin, form: 'single-form', noDevice: rawLogin.noDevice === undefined ? 'refuse' : parsedLogin.noDevice };

  let allowedNetworks: Cidr[] | null = null;
  if (data.allowed_networks) {
    allowedNetworks = data.allowed_networks.map((text, i) => {
      const range = parseCidr(text);
      if (!range) throw new ConfigError(file, `allowed_networks.${i}`, `"${text.slice(0, 60)}" is not an address or CIDR range such as 10.0.0.0/8 or 2001:db8::/32`);
      return range;
    });
  }
  return { file, id: data.id, name: data.name, secret, policy, maxWaitSeconds: data.max_wait_seconds, allowedNetworks };
}

/**
 * Loads every *.json under `dir` (sorted). A missing folder means no gateways. An id that is
 * already a gateway's, or an OIDC client's (`takenIds`, id -> file), stops the start: the audit
 * trail names both by that id.
 */
export function loadAgents(dir: string, env: NodeJS.ProcessEnv = process.env, takenIds: ReadonlyMap<string, string> = new Map()): AgentRegistration[] {
  const seen = new Map(takenIds);
  return readJsonFolder(dir).map(({ file, raw }) => {
    const agent = parseAgent(file, raw, env);
    if (seen.has(agent.id)) throw new ConfigError(file, 'id', `"${agent.id}" is already registered by ${seen.get(agent.id)}`);
    seen.set(agent.id, file);
    return agent;
  });
}
