/**
 * A benchmark child for the push fan-out (bench/push-fanout.ts): sends encrypted, VAPID-signed Web
 * Push messages to the local push-service double with our notifier (createWebPushNotifier) or with
 * the web-push package's default path (sendNotification), and reports its own CPU time per run.
 * Configured by BENCH_FANOUT (JSON); answers { cmd: 'run' | 'stop' } over IPC.
 */
import http2 from 'node:http2';
import https from 'node:https';
import webpush from 'web-push';
import { checkSubscription } from '../../src/push/subscription.js';
import { VapidSigner } from '../../src/push/vapid.js';
import { createWebPushNotifier } from '../../src/push/webpush-sender.js';
import type { PushPayload, PushSubscriptionJson } from '../../src/push/types.js';

export interface FanoutConfig {
  /** One certificate per push-service double (both are self-signed with the same subject, so one agent each). */
  cas: string[];
  /** The HTTP/2 double's certificate (experiment ours-h2). */
  h2ca?: string;
  vapid: { publicKey: string; privateKey: string; subject: string };
  maxSockets: number;
}

export interface FanoutRun {
  cmd: 'run';
  /** encrypt-only and post-only split ours into its two halves (diagnostics). */
  impl: 'ours' | 'web-push' | 'encrypt-only' | 'post-only' | 'encrypt+post' | 'ours-h2';
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
  sent: number;
  failed: number;
  failures: string[];
  wallMs: number;
  cpuMs: number;
  userMs: number;
  systemMs: number;
}

const config = JSON.parse(process.env.BENCH_FANOUT ?? '{}') as FanoutConfig;
// The same agent settings for both; each its own pool of keep-alive connections.
const targets = config.cas.map((ca) => {
  const oursAgent = new https.Agent({ ca, keepAlive: true, maxSockets: config.maxSockets });
  const webpushAgent = new https.Agent({ ca, keepAlive: true, maxSockets: config.maxSockets });
  return { oursAgent, webpushAgent, notifier: createWebPushNotifier({ vapid: config.vapid, agent: oursAgent }) };
});

/**
 * Scratch experiment "ours-h2": the proposed change to src/push/webpush-sender.ts, not the shipped
 * code. The same checks, encryption (web-push's encrypt) and cached VAPID header (VapidSigner) as
 * ours, but one HTTP/2 session per push-service origin (FCM, Mozilla autopush and Apple's service
 * speak h2), streams multiplexed on it, instead of HTTP/1.1 keep-alive requests. No retries.
 */
const h2Signer = new VapidSigner(config.vapid);
const h2Sessions = new Map<string, http2.ClientHttp2Session>();
function h2Session(origin: string): http2.ClientHttp2Session {
  let s = h2Sessions.get(origin);
  if (!s || s.closed || s.destroyed) {
    s = http2.connect(origin, { ca: config.h2ca });
    s.on('error', () => h2Sessions.delete(origin));
    s.on('close', () => h2Sessions.delete(origin));
    h2Sessions.set(origin, s);
  }
  return s;
}
async function sendH2(sub: PushSubscriptionJson, payload: PushPayload, topic: string): Promise<void> {
  const checked = checkSubscription(sub);
  if ('error' in checked) throw new Error(checked.error);
  const body = webpush.encrypt(sub.keys.p256dh, sub.keys.auth, Buffer.from(JSON.stringify(payload)), 'aes128gcm').cipherText;
  const origin = checked.url.origin;
  const authorization = await h2Signer.authorization(origin);
  await new Promise<void>((resolve, reject) => {
    const stream = h2Session(origin).request({
      ':method': 'POST', ':path': checked.url.pathname, ttl: '120', urgency: 'high', topic,
      'content-encoding': 'aes128gcm', 'content-type': 'application/octet-stream', 'content-length': String(body.length), authorization,
    });
    let status = 0;
    stream.on('response', (h) => { status = Number(h[':status']); });
    stream.on('error', reject);
    stream.on('end', () => (status === 201 ? resolve() : reject(new Error(`status ${status}`))));
    stream.resume();
    stream.end(body);
  });
}

async function run(r: FanoutRun): Promise<FanoutResult> {
  const failures: string[] = [];
  let sent = 0;
  let failed = 0;
  let next = 0;
  const body = JSON.stringify(r.payload);
  const { notifier, webpushAgent } = targets[r.target]!;
  const plaintext = Buffer.from(body);
  const vapidHeader = r.impl === 'ours-h2' ? '' : (await webpush.getVapidHeaders(new URL(r.subscriptions[0]!.endpoint).origin, config.vapid.subject, config.vapid.publicKey, config.vapid.privateKey, 'aes128gcm')).Authorization;
  const fixed = r.impl === 'ours-h2' ? Buffer.alloc(0) : webpush.encrypt(r.subscriptions[0]!.keys.p256dh, r.subscriptions[0]!.keys.auth, plaintext, 'aes128gcm').cipherText;
  const diagnostics: Record<string, (sub: PushSubscriptionJson) => Promise<void>> = {
    'encrypt-only': async (sub) => {
      webpush.encrypt(sub.keys.p256dh, sub.keys.auth, plaintext, 'aes128gcm');
    },
    'encrypt+post': (sub) => post(sub, webpush.encrypt(sub.keys.p256dh, sub.keys.auth, plaintext, 'aes128gcm').cipherText),
    'post-only': (sub) => post(sub, fixed),
  };
  const post = (sub: PushSubscriptionJson, payloadBody: Buffer) => new Promise<void>((resolve, reject) => {
      const req = https.request(sub.endpoint, {
        method: 'POST', agent: targets[r.target]!.oursAgent,
        headers: { TTL: '120', Urgency: 'high', Topic: r.topic, 'Content-Encoding': 'aes128gcm', 'Content-Type': 'application/octet-stream', 'Content-Length': String(payloadBody.length), Authorization: vapidHeader },
      }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(payloadBody);
    });
  diagnostics['ours-h2'] = (sub) => sendH2(sub, r.payload, r.topic);
  const sendOne = diagnostics[r.impl] ?? (r.impl === 'ours'
    ? async (sub: PushSubscriptionJson) => {
      const res = await notifier.send(sub, r.payload, { ttlSeconds: 120, topic: r.topic, urgency: 'high' });
      if (res.status !== 'sent') throw new Error(JSON.stringify(res));
    }
    : async (sub: PushSubscriptionJson) => {
      // web-push's documented default: sendNotification with vapidDetails; it signs a VAPID JWT
      // and encrypts (aes128gcm) for every message. Only the agent is ours (it must trust the CA).
      const res = await webpush.sendNotification(sub, body, {
        vapidDetails: config.vapid, TTL: 120, urgency: 'high', topic: r.topic, agent: webpushAgent,
      });
      if (res.statusCode !== 201) throw new Error(`status ${res.statusCode}`);
    });
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
  return { impl: r.impl, sent, failed, failures, wallMs, cpuMs: (cpu.user + cpu.system) / 1000, userMs: cpu.user / 1000, systemMs: cpu.system / 1000 };
}

process.on('message', (msg: ({ cmd: 'run' } & FanoutRun | { cmd: 'stop' } | { cmd: 'usage' }) & { id: number }) => {
  const reply = (result: unknown) => process.send?.({ id: msg.id, result });
  if (msg.cmd === 'run') {
    run(msg).then(reply, (err: unknown) => process.send?.({ id: msg.id, error: String(err) }));
  } else if (msg.cmd === 'usage') {
    reply({ pid: process.pid, cpu: process.cpuUsage(), memory: process.memoryUsage(), loopDelay: { p50: 0, p99: 0, max: 0 }, counts: { sql: 0, redis: 0, redisByCommand: {}, sqlByStatement: {} } });
  } else {
    for (const session of h2Sessions.values()) session.close();
    void Promise.all(targets.map((t) => t.notifier.close())).then(() => {
      for (const t of targets) {
        t.oursAgent.destroy();
        t.webpushAgent.destroy();
      }
      reply(null);
      setImmediate(() => process.exit(0));
    });
  }
});
process.send?.({ ready: true, url: '', pid: process.pid });
