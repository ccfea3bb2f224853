import type { AgentRegistration } from '../config/agents.js';
import { safeEqualStrings } from '../http/safe-equal.js';
import { inCidr, parseIp } from '../net/ip.js';

/**
 * Which gateway calls (docs/agent-api.md, "Authentication"): its id and secret as HTTP Basic
 * (RFC 7617), or its secret alone as a Bearer credential (RFC 6750 2.1). Secrets are compared in
 * constant time (safe-equal.ts hashes both sides, so not even the length leaks); a Bearer secret
 * is compared with every gateway's, all of them, whichever matches. Null: no gateway.
 */
export function identifyAgent(authorization: string, agents: readonly AgentRegistration[], callerIp: string): AgentRegistration | null {
  const m = /^(\S+) +(\S+)$/.exec(authorization.trim());
  if (!m) return null;
  const [, scheme, credentials] = m as unknown as [string, string, string];
  let found: AgentRegistration | null = null;
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) return null;
    const id = decoded.slice(0, colon);
    const given = decoded.slice(colon + 1);
    const agent = agents.find((a) => a.id === id) ?? null;
    // Compared even for an unknown id, so that the time taken does not tell known ids apart.
    const expected = agent?.secret ?? '\u0000no gateway';
    // As sent, or form-encoded as OAuth clients send Basic credentials (RFC 6749 2.3.1).
    const formDecoded = formDecode(given);
    const matches = safeEqualStrings(given, expected) || (formDecoded !== null && formDecoded !== given && safeEqualStrings(formDecoded, expected));
    found = agent && matches ? agent : null;
  } else if (/^bearer$/i.test(scheme)) {
    for (const agent of agents) if (safeEqualStrings(credentials, agent.secret) && !found) found = agent;
  }
  if (!found) return null;
  return fromAllowedNetwork(found, callerIp) ? found : null;
}

function formDecode(s: string): string | null {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

/** Pure: whether the caller's address is in one of the gateway's allowed networks (or it has none). */
export function fromAllowedNetwork(agent: Pick<AgentRegistration, 'allowedNetworks'>, callerIp: string): boolean {
  if (!agent.allowedNetworks) return true;
  const ip = parseIp(callerIp);
  return ip !== null && agent.allowedNetworks.some((range) => inCidr(ip, range));
}
