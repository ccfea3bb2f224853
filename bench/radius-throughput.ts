/**
 * Benchmark 7: RADIUS Access-Requests per IdP core-second, passcode path (issue 15, item 5).
 *
 * The IdP child serves the RADIUS door (src/radius/, RADIUS_PORT) beside the web, as `npm start`
 * does with RADIUS_PORT set. The load generator is a NAS sending real UDP Access-Requests (RFC 2865
 * PAP, Message-Authenticator first-class as the door requires it; test/radius/packets.ts builds
 * them): User-Password "<password>,<TOTP>" for a client whose login form is the single form, so
 * one request carries both factors (docs/radius.md) and is answered Access-Accept at once. Each
 * phone's TOTP is accepted once per 30 s step (RFC 6238 5.2), so phones rest between uses.
 *
 * Baseline in the same child, right after each run: argon2id verification alone (the same
 * password hash), one at a time: the ceiling of any password request on one core.
 *
 * Run alone: node --import tsx bench/radius-throughput.ts
 */
import { createSocket, type Socket } from 'node:dgram';
import { hashPassword } from '../src/accounts/passwords.js';
import { totpAt } from '../src/otp/totp.js';
import { hidePassword } from '../src/radius/authenticators.js';
import { startPushService } from '../test/support/push-service.js';
import { cpuOver, usageDelta } from './support/child.js';
import { begin, log, median, row, runIfMain, sleep, type BenchResult } from './support/report.js';
import { seedPhones, type BenchPhone } from './support/signin.js';
import { createWorld, freePort, PASSWORD } from './support/world.js';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RUN_SECONDS = Number(process.env.BENCH_RUN_SECONDS ?? 6);
const PHONES = Number(process.env.BENCH_PHONES ?? 400);
const CONCURRENCY = Number(process.env.BENCH_VUS ?? 8);
const PHONE_REST_MS = 30_500;

/** An Access-Request (RFC 2865 4.1): User-Name, User-Password hidden (5.2), Message-Authenticator (RFC 3579 3.2) over the packet. */
function accessRequest(secret: Buffer, user: string, password: string, identifier: number): Buffer {
  const authenticator = randomBytes(16);
  const attr = (type: number, value: Buffer) => Buffer.concat([Buffer.from([type, value.length + 2]), value]);
  const body = Buffer.concat([attr(1, Buffer.from(user)), attr(2, hidePassword(Buffer.from(password), secret, authenticator)), attr(80, Buffer.alloc(16))]);
  const header = Buffer.from([1, identifier, 0, 0]);
  header.writeUInt16BE(20 + body.length, 2);
  const bytes = Buffer.concat([header, authenticator, body]);
  createHmac('md5', secret).update(bytes).digest().copy(bytes, bytes.length - 16);
  return bytes;
}

/** A NAS: one UDP socket, replies matched to requests by identifier (one request per identifier in flight). */
class Nas {
  private readonly waiting = new Map<number, (reply: Buffer) => void>();
  private next = 0;
  private constructor(private readonly socket: Socket, private readonly port: number, private readonly secret: string) {
    socket.on('message', (m) => { const w = this.waiting.get(m[1]!); if (w) { this.waiting.delete(m[1]!); w(m); } });
  }
  static async open(port: number, secret: string): Promise<Nas> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new Nas(socket, port, secret);
  }
  /** Sends one Access-Request; resolves with the reply's code (2 Accept, 3 Reject, 11 Challenge). */
  ask(user: string, password: string, timeoutMs = 10_000): Promise<number> {
    let identifier = this.next;
    for (let i = 0; i < 256 && this.waiting.has(identifier); i++) identifier = (identifier + 1) % 256;
    this.next = (identifier + 1) % 256;
    const req = accessRequest(Buffer.from(this.secret), user, password, identifier);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.waiting.delete(identifier); reject(new Error('no reply')); }, timeoutMs);
      this.waiting.set(identifier, (m) => { clearTimeout(t); resolve(m[0]!); });
      this.socket.send(req, this.port, '127.0.0.1', (err) => { if (err) { clearTimeout(t); reject(err); } });
    });
  }
  close(): void { this.socket.close(); }
}

export async function radiusThroughput(): Promise<BenchResult> {
  const bench = begin('radius-throughput', '7. RADIUS Access-Requests per IdP core-second, passcode path (password,TOTP in one PAP request)', { runs: RUNS, runSeconds: RUN_SECONDS, phones: PHONES, concurrency: CONCURRENCY });
  const world = await createWorld('radius');
  const push = await startPushService();
  const secret = randomBytes(30).toString('base64');
  mkdirSync(path.join(world.configDir, 'radius'), { recursive: true });
  writeFileSync(path.join(world.configDir, 'radius', 'bench-nas.json'), JSON.stringify({
    name: 'bench-nas', address: '127.0.0.1', secretEnv: 'RADIUS_SECRET_BENCH_NAS', mode: 'single',
    login: { form: 'single-form', numberMatching: false, noDevice: 'refuse', consent: 'implicit' },
  }));
  const nases: Nas[] = [];
  try {
    const radiusPort = await freePort();
    const idp = await world.startIdp({ label: 'idp-radius', pushService: push, env: { RADIUS_PORT: String(radiusPort), RADIUS_HOST: '127.0.0.1', RADIUS_SECRET_BENCH_NAS: secret } });
    const passwordHash = await hashPassword(PASSWORD);
    const phones: BenchPhone[] = await seedPhones(idp, { count: PHONES, prefix: 'r-', passwordHash, pushService: push, concurrency: 12 });
    for (let i = 0; i < CONCURRENCY; i++) nases.push(await Nas.open(radiusPort, secret));

    const queue = [...phones];
    const take = async (): Promise<BenchPhone> => {
      for (;;) {
        const head = queue[0];
        if (head && head.lastUsed + PHONE_REST_MS <= performance.now()) return queue.shift()!;
        await sleep(20);
      }
    };
    const drive = async (seconds: number) => {
      const out = { accepted: 0, other: 0, codes: {} as Record<number, number> };
      const end = performance.now() + seconds * 1000;
      await Promise.all(nases.map(async (nas) => {
        while (performance.now() < end) {
          const p = await take();
          try {
            const code = await nas.ask(p.username, `${PASSWORD},${totpAt(p.phone.totpSecret, Date.now())}`);
            if (code === 2) out.accepted++; else { out.other++; out.codes[code] = (out.codes[code] ?? 0) + 1; }
          } catch { out.other++; } finally { p.lastUsed = performance.now(); queue.push(p); }
        }
      }));
      return out;
    };
    log('radius: warm-up');
    const warm = await drive(3);
    if (warm.accepted === 0) throw new Error(`no Access-Accept in the warm-up: ${JSON.stringify(warm)}`);
    const m = { perCore: [] as number[], argon: [] as number[], ratio: [] as number[], cpuMs: [] as number[], argonMs: [] as number[] };
    for (let r = 0; r < RUNS; r++) {
      const { result, cpuSeconds: [cpu], before, after } = await cpuOver([idp], () => drive(RUN_SECONDS));
      const used = usageDelta(before[0]!, after[0]!);
      const a = await idp.call<{ n: number; cpuMs: number }>({ cmd: 'argon2', hash: passwordHash, password: PASSWORD, durationMs: 3000 });
      const perCore = result.accepted / cpu!;
      const argonPerCore = a.n / (a.cpuMs / 1000);
      m.perCore.push(perCore); m.argon.push(argonPerCore); m.ratio.push(perCore / argonPerCore);
      m.cpuMs.push((cpu! * 1000) / Math.max(1, result.accepted)); m.argonMs.push(a.cpuMs / a.n);
      const per = (x: number) => (x / Math.max(1, result.accepted)).toFixed(1);
      log(`radius run ${r + 1}: ${result.accepted} Access-Accepts (${result.other} other: ${JSON.stringify(result.codes)}), IdP CPU ${cpu!.toFixed(2)} s -> ${perCore.toFixed(1)}/core-s; per request ${per(used.sql)} SQL statements, ${per(used.redis)} Redis commands; argon2id alone ${argonPerCore.toFixed(1)}/core-s`);
      bench.result.runs.push({ run: r + 1, ...result, cpuSeconds: cpu, perRequest: { sql: used.sql / Math.max(1, result.accepted), redis: used.redis / Math.max(1, result.accepted) }, argon2: a });
    }
    bench.result.rows.push(
      row('RADIUS Access-Requests (password,TOTP) per IdP core-second', '1/s/core', m.perCore, { baselineLabel: 'argon2id verify alone', baseline: m.argon, ratio: m.ratio, target: '>= 0.5x argon2id', met: median(m.ratio) >= 0.5 }),
      row('IdP CPU per Access-Request', 'ms', m.cpuMs, { baselineLabel: 'argon2id verify alone', baseline: m.argonMs }),
    );
    bench.result.notes.push(`${CONCURRENCY} NAS sockets, one request in flight each; ${PHONES} accounts with one phone each (a TOTP step is accepted once per device).`);
  } finally {
    for (const n of nases) n.close();
    await world.cleanup();
    await push.close();
  }
  return bench.finish();
}

runIfMain(import.meta.url, radiusThroughput);
