/**
 * A benchmark child for the push fan-out (bench/push-fanout.ts): sends encrypted, VAPID-signed Web
 * Push messages to the local push-service doubles with our notifier (createWebPushNotifier) or with
 * the web-push package's default path (sendNotification), and reports its own CPU time per run.
 * Configured by BENCH_FANOUT (JSON); answers { cmd: 'run' | 'usage' | 'stop' } over IPC.
 */
import https from 'node:https';
import webpush from 'web-push';
import { WebPushEncrypter } from '../../src/push/encrypt.js';
import { createPushEndpointGuard } from '../../src/push/endpoint-guard.js';
import { parsePushServices } from '../../src/push/endpoint-policy.js';
import { createPushTransport, type PushTransport } from '../../src/push/transport.js';
import { createWebPushNotifier } from '../../src/push/webpush-sender.js';
import type { Notifier, PushPayload, PushSubscriptionJson } from '../../src/push/types.js';

export interface FanoutConfig {
  /** One certificate per push-service double (each self-signed: one transport and agent each). */
  cas: string[];
  /** host:port of each double, in the order of cas. */
  hosts: string[];
  vapid: { publicKey: string; privateKey: string; subject: string };
  maxSockets: number;
}

export interface FanoutRun {
  cmd: 'run';
  /** encrypt-only and post-only split ours into its two halves (diagnostics). */
  impl: 'ours' | 'web-push' | 'encrypt-only' | 'encrypt-only, node:crypto ECDH' | 'post-only' | 'encrypt+post';
  subscriptions: PushSubscriptionJson[];
  payload: PushPayload;
  count: number;
  concurrency: number;
  topic: string;
  /** Index into cas: which double the subscriptions belong to. */
  target: number;
}

export interface FanoutResult {
  impl: string;
  /** The ECDH our sender uses in this process (src/push/native-ecdh.ts). */
  ecdh: 'native' | 'node:crypto';
  sent: number;
  failed: number;
  failures: string[];
  wallMs: number;
  cpuMs: number;
  userMs: number;
  systemMs: number;
}

const config = JSON.parse(process.env.BENCH_FANOUT ?? '{}') as FanoutConfig;
// Each path its own connections: ours a push transport (HTTP/2 where the double offers it), web-push
// an https.Agent with keep-alive (it speaks HTTP/1.1 only), the same socket limit for both.
const targets: Array<{ transport: PushTransport; notifier: Notifier; webpushAgent: https.Agent }> = config.cas.map((ca, i) => {
  // The doubles listen on 127.0.0.1: allowed as an operator's push services would be (PUSH_SERVICES).
  const guard = createPushEndpointGuard({ services: parsePushServices(config.hosts[i]!) });
  const transport = createPushTransport({ ca, maxSockets: config.maxSockets, guard });
  const webpushAgent = new https.Agent({ ca, keepAlive: true, maxSockets: config.maxSockets });
  return { transport, webpushAgent, notifier: createWebPushNotifier({ vapid: config.vapid, transport }) };
});
const encrypter = new WebPushEncrypter();
/** The same encryption on node:crypto's ECDH (what the sender uses when native/webpush-ecdh was not built). */
const nodeCryptoEncrypter = new WebPushEncrypter({ native: null });

async function run(r: FanoutRun): Promise<FanoutResult> {
  const failures: string[] = [];
  let sent = 0;
  let failed = 0;
  let next = 0;
  const body = JSON.stringify(r.payload);
  const { notifier, webpushAgent, transport } = targets[r.target]!;
  const plaintext = Buffer.from(body);
  const keysOf = (sub: PushSubscriptionJson) => ({ p256dh: Buffer.from(sub.keys.p256dh, 'base64url'), auth: Buffer.from(sub.keys.auth, 'base64url') });
  const first = r.subscriptions[0]!;
  const vapidHeader = (await webpush.getVapidHeaders(new URL(first.endpoint).origin, config.vapid.subject, config.vapid.publicKey, config.vapid.privateKey, 'aes128gcm')).Authorization;
  const fixed = encrypter.encrypt(keysOf(first), plaintext);
  const post = async (sub: PushSubscriptionJson, payloadBody: Buffer): Promise<void> => {
    const answer = await transport.post(new URL(sub.endpoint), {
      TTL: '120', Urgency: 'high', Topic: r.topic, 'Content-Encoding': 'aes128gcm', 'Content-Type': 'application/octet-stream',
      'Content-Length': String(payloadBody.length), Authorization: vapidHeader,
    }, payloadBody, 5000);
    if (answer.kind !== 'response' || answer.status !== 201) throw new Error(JSON.stringify(answer));
  };
  const paths: Record<FanoutRun['impl'], (sub: PushSubscriptionJson) => Promise<void>> = {
    ours: async (sub) => {
      const res = await notifier.send(sub, r.payload, { ttlSeconds: 120, topic: r.topic, urgency: 'high' });
      if (res.status !== 'sent') throw new Error(JSON.stringify(res));
    },
    // web-push's documented default: sendNotification with vapidDetails; it signs a VAPID JWT
    // and encrypts (aes128gcm) for every message. Only the agent is ours (it must trust the CA).
    'web-push': async (sub) => {
      const res = await webpush.sendNotification(sub, body, {
        vapidDetails: config.vapid, TTL: 120, urgency: 'high', topic: r.topic, agent: webpushAgent,
      });
      if (res.statusCode !== 201) throw new Error(`status ${res.statusCode}`);
    },
    'encrypt-only': async (sub) => {
      encrypter.encrypt(keysOf(sub), plaintext);
    },
    'encrypt-only, node:crypto ECDH': async (sub) => {
      nodeCryptoEncrypter.encrypt(keysOf(sub), plaintext);
    },
    'encrypt+post': (sub) => post(sub, encrypter.encrypt(keysOf(sub), plaintext)),
    'post-only': (sub) => post(sub, fixed),
  };
  const sendOne = paths[r.impl];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: r.concurrency }, async () => {
    while (next < r.count) {
      const i = next++;
      try {
        await sendOne(r.subscriptions[i % r.subscriptions.length]!);
        sent++;
      } catch (err) {
        failed++;
        if (failures.length < 5) failures.push((err as Error).message.slice(0, 200));
      }
    }
  }));
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { impl: r.impl, ecdh: encrypter.ecdh, sent, failed, failures, wallMs, cpuMs: (cpu.user + cpu.system) / 1000, userMs: cpu.user / 1000, systemMs: cpu.system / 1000 };
}

process.on('message', (msg: ({ cmd: 'run' } & FanoutRun | { cmd: 'stop' } | { cmd: 'usage' }) & { id: number }) => {
  const reply = (result: unknown) => process.send?.({ id: msg.id, result });
  if (msg.cmd === 'run') {
    run(msg).then(reply, (err: unknown) => process.send?.({ id: msg.id, error: String(err) }));
  } else if (msg.cmd === 'usage') {
    reply({ pid: process.pid, cpu: process.cpuUsage(), memory: process.memoryUsage(), loopDelay: { p50: 0, p99: 0, max: 0 }, counts: { sql: 0, redis: 0, redisByCommand: {}, sqlByStatement: {} } });
  } else {
    void Promise.all(targets.map(async (t) => {
      await t.notifier.close();
      await t.transport.close();
      t.webpushAgent.destroy();
    })).then(() => {
      reply(null);
      setImmediate(() => process.exit(0));
    });
  }
});
process.send?.({ ready: true, url: '', pid: process.pid });
