// BullMQ at the reminder-dispatch benchmark's job (bench/bullmq.sh runs it; a reference
// for bench/reminders.sh, never part of the product).
//
// On a dedicated, empty Redis: seeds --jobs delayed jobs due over --window seconds from
// --lead seconds after seeding starts, reads Redis used_memory before and after, forks
// worker.mjs (a BullMQ Worker that only notes each job's arrival), and counts what
// arrives until every job has or the deadline passes. Writes a JSON report shaped like
// bench/reminders' (seeding, redis, dispatch) to --out and a summary to stdout.
//
// Due instants: job i of N is due at window start + i × window / N, i.e. occurrence
// floor(i / patients) of patient i mod patients, as ours are. --pattern bunched rounds
// each down to a whole second (as the product's are: ~N / window jobs due at once);
// spread keeps the millisecond.
import { fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

const QUEUE = 'reminders';
const PREFIX = 'bull';
const JOB_NAME = 'reminder.due';

const { values: flags } = parseArgs({
  options: {
    'redis-url': { type: 'string' },
    jobs: { type: 'string', default: '1000000' },
    'per-patient': { type: 'string', default: '10' },
    window: { type: 'string', default: '60' },
    lead: { type: 'string', default: '40' },
    pattern: { type: 'string', default: 'bunched' },
    concurrency: { type: 'string', default: '200' },
    workers: { type: 'string', default: '1' },
    deadline: { type: 'string', default: '120' },
    'title-bytes': { type: 'string', default: '400' },
    chunk: { type: 'string', default: '1000' },
    'chunks-in-flight': { type: 'string', default: '4' },
    'clk-tck': { type: 'string', default: '100' },
    out: { type: 'string' },
  },
  strict: true,
});

function int(name, min, max) {
  const v = Number(flags[name]);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new Error(`--${name}=${flags[name]}: expected an integer in ${min}..${max}`);
  }
  return v;
}
if (!flags['redis-url']) throw new Error('--redis-url is required');
if (!['bunched', 'spread'].includes(flags.pattern)) {
  throw new Error(`--pattern=${flags.pattern}: expected bunched or spread`);
}
const args = {
  redisUrl: flags['redis-url'],
  jobs: int('jobs', 1, 50_000_000),
  perPatient: int('per-patient', 1, 1000),
  window: int('window', 1, 3600),
  lead: int('lead', 1, 3600),
  pattern: flags.pattern,
  concurrency: int('concurrency', 1, 10_000),
  workers: int('workers', 1, 16),
  deadline: int('deadline', 1, 3600),
  titleBytes: int('title-bytes', 0, 100_000),
  chunk: int('chunk', 1, 100_000),
  chunksInFlight: int('chunks-in-flight', 1, 256),
  clkTck: int('clk-tck', 1, 100_000),
  out: flags.out,
};

const log = (msg) => process.stderr.write(`bullmq bench: ${msg}\n`);

// ---- CPU from /proc -----------------------------------------------------------------

/** utime + stime of a process, in clock ticks (null once it is gone). */
function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return null;
  }
}

/** The whole machine's busy and total ticks (all cores). */
function machineTicks() {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + cpu[7];
  return { busy, total: busy + cpu[3] + cpu[4] };
}

function snapshot(pids) {
  const s = { wall: Date.now(), machine: machineTicks(), procs: {} };
  for (const [name, list] of Object.entries(pids)) {
    s.procs[name] = list.reduce((sum, pid) => sum + (cpuTicks(pid) ?? 0), 0);
  }
  return s;
}

/** CPU seconds of each process group between two snapshots. */
function cpuSeconds(a, b) {
  const out = {};
  for (const name of Object.keys(b.procs)) {
    out[name] = round((b.procs[name] - (a.procs[name] ?? 0)) / args.clkTck, 2);
  }
  return out;
}

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

async function usedMemory(redis) {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)[1]);
}

// ---- seeding --------------------------------------------------------------------------

const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
const cores = cpuinfo.match(/^processor\s*:/gm)?.length ?? 1;
const cpuModel = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
// Other work on the machine distorts the figures: the report says how busy it was.
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const loadBefore = loadAverage();
const redisUrl = new URL(args.redisUrl);
const connection = {
  host: redisUrl.hostname,
  port: Number(redisUrl.port || 6379),
  maxRetriesPerRequest: null,
};
const redis = new Redis(connection);
const dbsize = await redis.dbsize();
if (dbsize !== 0) {
  throw new Error(`the Redis at ${args.redisUrl} holds ${dbsize} keys: the benchmark needs a dedicated, empty one`);
}
const serverInfo = await redis.info('server');
const redisPid = Number(/^process_id:(\d+)/m.exec(serverInfo)[1]);
const redisVersion = /^redis_version:(\S+)/m.exec(serverInfo)?.[1];
const [, appendonly] = await redis.config('GET', 'appendonly');
const [, maxmemoryPolicy] = await redis.config('GET', 'maxmemory-policy');
const queue = new Queue(QUEUE, { connection, prefix: PREFIX });
await queue.waitUntilReady();
const memBefore = await usedMemory(redis);

const total = args.jobs;
const patients = Math.ceil(total / args.perPatient);
const seedStartMs = Date.now();
const windowStartMs = (Math.floor(seedStartMs / 1000) + args.lead) * 1000;
const windowEndMs = windowStartMs + args.window * 1000;
/** Job i's due instant, ms since the epoch. */
function dueMs(i) {
  if (args.pattern === 'bunched') {
    return windowStartMs + Math.floor((i * args.window) / total) * 1000;
  }
  return windowStartMs + Math.floor((i * args.window * 1000) / total);
}

// Per patient (one plan step each, as ours): ids and the sealed title all its reminders
// carry; base64 of random bytes, as incompressible as a ciphertext.
const patientIds = Array.from({ length: patients }, () => randomUUID());
const stepIds = Array.from({ length: patients }, () => randomUUID());
const titles = Array.from({ length: patients }, () =>
  randomBytes(Math.ceil((args.titleBytes * 3) / 4)).toString('base64').slice(0, args.titleBytes),
);

log(
  `seeding ${total} delayed jobs (${args.pattern}) due over ${args.window} s from ${new Date(windowStartMs).toISOString()} (in ${((windowStartMs - seedStartMs) / 1000).toFixed(1)} s)`,
);
const pids = { bench: [process.pid], redis: [redisPid] };
const seedSnap = snapshot(pids);
let next = 0;
async function seeder() {
  for (;;) {
    const from = next;
    if (from >= total) return;
    next = Math.min(total, from + args.chunk);
    const jobs = [];
    const dues = [];
    for (let i = from; i < next; i += 1) {
      const p = i % patients;
      const due = dueMs(i);
      dues.push(due);
      jobs.push({
        name: JOB_NAME,
        data: {
          reminder_id: randomUUID(),
          patient_id: patientIds[p],
          step_id: stepIds[p],
          due_at: new Date(due).toISOString(),
          title: titles[p],
        },
      });
    }
    // BullMQ stamps each job with Date.now() as addBulk builds it and makes it due at that
    // stamp + delay: computed right before, the delays put it on the due instant within a
    // millisecond or two (an explicit opts.timestamp would be exact but stored in every job).
    const now = Date.now();
    for (let k = 0; k < jobs.length; k += 1) jobs[k].opts = { delay: Math.max(0, dues[k] - now) };
    await queue.addBulk(jobs);
  }
}
await Promise.all(Array.from({ length: args.chunksInFlight }, seeder));
const seededMs = Date.now();
const seedEndSnap = snapshot(pids);
const seedSecs = (seededMs - seedStartMs) / 1000;
const slackMs = windowStartMs - seededMs;
log(`seeded in ${seedSecs.toFixed(1)} s (${Math.round(total / seedSecs)} jobs/s); slack before window ${slackMs} ms`);
if (slackMs < 0) log(`WARNING seeding ended ${-slackMs} ms after the window started: raise the lead`);

const memSeeded = await usedMemory(redis);
const delayedAfterSeeding = await redis.zcard(`${PREFIX}:${QUEUE}:delayed`);
const bytesPerJob = (memSeeded - memBefore) / total;
// One job's hash, and the delayed set, for where the bytes go.
const sampleJobBytes = await redis.call('MEMORY', 'USAGE', `${PREFIX}:${QUEUE}:1`);
const delayedSetBytes = await redis.call('MEMORY', 'USAGE', `${PREFIX}:${QUEUE}:delayed`, 'SAMPLES', '1000');
const eventsBytes = await redis.call('MEMORY', 'USAGE', `${PREFIX}:${QUEUE}:events`);
log(
  `Redis used_memory ${memBefore} → ${memSeeded} B: ${bytesPerJob.toFixed(1)} B per pending job (${delayedAfterSeeding} delayed; one job hash ${sampleJobBytes} B, delayed set ${delayedSetBytes} B, events stream ${eventsBytes} B)`,
);

// ---- dispatch -------------------------------------------------------------------------

const seen = new Uint8Array(total + 1);
const lateness = new Int32Array(total);
const latenessOverflow = [];
const perSecond = new Map();
let received = 0;
let distinct = 0;
let early = 0;
let unknown = 0;
let firstMs = 0;
let lastMs = 0;
let firstSnap = null;
let lastSnap = null;

const here = fileURLToPath(new URL('.', import.meta.url));
const children = [];
for (let w = 0; w < args.workers; w += 1) {
  const child = fork(
    `${here}worker.mjs`,
    [JSON.stringify({ redisUrl: args.redisUrl, queue: QUEUE, prefix: PREFIX, concurrency: args.concurrency })],
    // Structured clone carries the typed arrays as they are.
    { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  children.push(child);
}
pids.worker = children.map((c) => c.pid);

let allDone;
let stopping = false;
const done = new Promise((resolve) => {
  allDone = resolve;
});
function onJobs(msg) {
  const n = msg.ids.length;
  for (let k = 0; k < n; k += 1) {
    const id = msg.ids[k];
    const at = msg.receivedAt[k];
    const late = msg.lateness[k];
    if (received < total) lateness[received] = late;
    else latenessOverflow.push(late);
    received += 1;
    if (id >= 1 && id <= total) {
      if (seen[id] === 0) {
        seen[id] = 1;
        distinct += 1;
      }
    } else {
      unknown += 1;
    }
    if (late < 0) early += 1;
    if (firstMs === 0 || at < firstMs) firstMs = at;
    if (at > lastMs) lastMs = at;
    const second = Math.floor((at - windowStartMs) / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  if (firstSnap === null) firstSnap = snapshot(pids);
  if (distinct >= total) {
    lastSnap ??= snapshot(pids);
    allDone('all received');
  }
}
const ready = children.map(
  (child) =>
    new Promise((resolve, reject) => {
      child.on('message', (msg) => {
        if (msg.type === 'ready') resolve();
        else if (msg.type === 'jobs') onJobs(msg);
      });
      child.once('exit', (code) => {
        reject(new Error(`a worker exited (${code}) before it was ready`));
        if (!stopping) log(`WARNING worker ${child.pid} exited (${code}) before it was told to stop`);
      });
    }),
);
await Promise.all(ready);
const dispatchSnap = snapshot(pids);
log(`${args.workers} worker process(es) ready (pids ${pids.worker.join(', ')}), concurrency ${args.concurrency} each`);

// CPU at each whole second of the window, for the per-second table.
const samples = [];
let sampling = true;
(async () => {
  while (sampling) {
    const k = Math.floor((Date.now() - windowStartMs) / 1000) + 1;
    await sleep(Math.max(0, windowStartMs + k * 1000 - Date.now()));
    if (!sampling) return;
    samples.push({ at: k, ...snapshot(pids) });
  }
})();
const progress = setInterval(() => {
  const s = ((Date.now() - windowStartMs) / 1000).toFixed(1);
  log(`received ${received} (${distinct} distinct), ${s} s after the window started`);
}, 5000);

const deadlineMs = windowEndMs + args.deadline * 1000;
// Unref'd: once everything has arrived, this timer must not keep the process alive.
const deadline = sleep(Math.max(0, deadlineMs - Date.now()), 'deadline', { ref: false });
const why = await Promise.race([done, deadline]);
clearInterval(progress);
lastSnap ??= snapshot(pids);
// Before the workers exit: a process gone reads as 0 CPU.
sampling = false;
if (why === 'deadline') log(`deadline passed with ${distinct} of ${total} received`);

// Stop the workers; what they had in flight still counts.
stopping = true;
await Promise.all(
  children.map(
    (child) =>
      new Promise((resolve) => {
        const kill = setTimeout(() => {
          log(`worker ${child.pid} did not stop in 30 s: killing it`);
          child.kill('SIGKILL');
        }, 30_000);
        child.on('message', (msg) => {
          if (msg.type === 'stopped') {
            clearTimeout(kill);
          }
        });
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.send({ type: 'stop' });
      }),
  ),
);

const memEnd = await usedMemory(redis);
const left = {
  delayed: await redis.zcard(`${PREFIX}:${QUEUE}:delayed`),
  wait: await redis.llen(`${PREFIX}:${QUEUE}:wait`),
  active: await redis.llen(`${PREFIX}:${QUEUE}:active`),
  failed: await redis.zcard(`${PREFIX}:${QUEUE}:failed`),
  completed: await redis.zcard(`${PREFIX}:${QUEUE}:completed`),
};
await queue.close();
await redis.quit();

// ---- report ---------------------------------------------------------------------------

const all = latenessOverflow.length ? Int32Array.from([...lateness, ...latenessOverflow]) : lateness.slice(0, received);
// As bench/reminders records them: an early arrival counts as 0 ms late.
for (let k = 0; k < all.length; k += 1) if (all[k] < 0) all[k] = 0;
all.sort();
const quantile = (q) => (all.length ? all[Math.max(0, Math.ceil(q * all.length) - 1)] : null);
const mean = all.length ? all.reduce((s, v) => s + v, 0) / all.length : null;

/** Jobs due by the end of second s of the window (s = 0 its first second). */
const dueBy = (s) => (s < 0 ? 0 : Math.min(total, Math.ceil(((s + 1) * total) / args.window)));
const receivedBy = (() => {
  const seconds = [...perSecond.keys()].sort((a, b) => a - b);
  const cumulative = new Map();
  let sum = 0;
  for (const s of seconds) {
    sum += perSecond.get(s);
    cumulative.set(s, sum);
  }
  return (s) => {
    let best = 0;
    for (const [t, c] of cumulative) if (t <= s) best = c;
    return best;
  };
})();
const buckets = [];
let minBacklogged = null;
let backloggedDelivered = 0;
let backloggedSeconds = 0;
for (let k = 1; k < samples.length; k += 1) {
  const a = samples[k - 1];
  const b = samples[k];
  // The sample at boundary b.at closes second b.at - 1.
  const second = b.at - 1;
  const delivered = perSecond.get(second) ?? 0;
  const backlogBefore = dueBy(second - 1) - receivedBy(second - 1);
  const backlogAfter = dueBy(second) - receivedBy(second);
  if (delivered === 0 && receivedBy(second) === 0) continue;
  if (backlogBefore > 0 && backlogAfter > 0) {
    minBacklogged = minBacklogged === null ? delivered : Math.min(minBacklogged, delivered);
    backloggedDelivered += delivered;
    backloggedSeconds += 1;
  }
  const dt = b.machine.total - a.machine.total;
  buckets.push({
    second,
    delivered,
    backlog: Math.max(0, backlogAfter),
    cpu_worker: (b.procs.worker - a.procs.worker) / args.clkTck,
    cpu_redis: (b.procs.redis - a.procs.redis) / args.clkTck,
    cpu_bench: (b.procs.bench - a.procs.bench) / args.clkTck,
    machine_busy_cores: dt > 0 ? round(((b.machine.busy - a.machine.busy) / dt) * cores, 2) : 0,
  });
}

const span = (lastMs - firstMs) / 1000;
const activeSecs = firstSnap && lastSnap ? (lastSnap.wall - firstSnap.wall) / 1000 : 0;
const coresOver = (a, b) => {
  const secs = (b.wall - a.wall) / 1000;
  const out = { seconds: round(secs, 2) };
  for (const [name, v] of Object.entries(cpuSeconds(a, b))) out[name] = secs > 0 ? round(v / secs, 3) : 0;
  return out;
};
const report = {
  system: 'bullmq',
  pattern: args.pattern,
  versions: {
    bullmq: JSON.parse(readFileSync(`${here}node_modules/bullmq/package.json`, 'utf8')).version,
    ioredis: JSON.parse(readFileSync(`${here}node_modules/ioredis/package.json`, 'utf8')).version,
    node: process.version,
    redis: redisVersion,
  },
  machine: { cores, cpu: cpuModel, load_average_before: loadBefore, load_average_after: loadAverage() },
  settings: {
    worker_processes: args.workers,
    concurrency_per_worker: args.concurrency,
    remove_on_complete: { count: 0 },
    remove_on_fail: { count: 1000 },
    seeding_chunk: args.chunk,
    seeding_chunks_in_flight: args.chunksInFlight,
    title_bytes: args.titleBytes,
  },
  seeding: {
    jobs: total,
    patients,
    window_secs: args.window,
    lead_secs: args.lead,
    secs: round(seedSecs, 2),
    jobs_per_sec: Math.round(total / seedSecs),
    slack_ms_before_window: slackMs,
    cpu_seconds: cpuSeconds(seedSnap, seedEndSnap),
  },
  redis: {
    appendonly,
    maxmemory_policy: maxmemoryPolicy,
    used_memory_before: memBefore,
    used_memory_seeded: memSeeded,
    used_memory_end: memEnd,
    bytes_per_pending_reminder: round(bytesPerJob, 1),
    pending_after_seeding: delayedAfterSeeding,
    left_at_end: left,
    key_bytes: { job_hash: sampleJobBytes, delayed_set: delayedSetBytes, events_stream: eventsBytes },
  },
  dispatch: {
    expected: total,
    received,
    distinct,
    duplicates: received - distinct - unknown,
    unknown_ids: unknown,
    lost: total - distinct,
    early,
    stopped_by: why,
    first_after_window_start_ms: firstMs ? firstMs - windowStartMs : null,
    last_after_window_end_ms: lastMs ? lastMs - windowEndMs : null,
    throughput_per_sec: span > 0 ? Math.round(received / span) : 0,
    backlogged_throughput_per_sec: backloggedSeconds ? Math.round(backloggedDelivered / backloggedSeconds) : null,
    min_backlogged_bucket_per_sec: minBacklogged,
    lateness_ms: {
      p50: quantile(0.5),
      p90: quantile(0.9),
      p99: quantile(0.99),
      max: all.length ? all[all.length - 1] : null,
      mean: mean === null ? null : round(mean, 1),
    },
    cpu_cores_first_to_last_delivery: firstSnap && lastSnap && activeSecs > 0 ? coresOver(firstSnap, lastSnap) : null,
    cpu_seconds_workers_ready_to_last_delivery: cpuSeconds(dispatchSnap, lastSnap),
    buckets,
  },
};

const d = report.dispatch;
const l = d.lateness_ms;
const c = d.cpu_cores_first_to_last_delivery ?? {};
process.stdout.write(
  [
    '',
    `== BullMQ ${report.versions.bullmq} reminder dispatch (${args.pattern}) ==`,
    `seeding: ${total} jobs in ${report.seeding.secs} s = ${report.seeding.jobs_per_sec}/s (slack before window ${slackMs} ms)`,
    `redis: ${report.redis.bytes_per_pending_reminder} B per pending job (used_memory ${memBefore} → ${memSeeded}, appendonly ${appendonly})`,
    `delivered: ${received} of ${total} (${distinct} distinct, ${d.duplicates} duplicates, ${d.lost} lost, ${early} early); stopped by ${why}`,
    `throughput: ${d.throughput_per_sec}/s first→last; while backlogged ${d.backlogged_throughput_per_sec}/s (min 1-s bucket ${minBacklogged})`,
    `lateness ms: p50 ${l.p50} p90 ${l.p90} p99 ${l.p99} max ${l.max} (first delivery ${d.first_after_window_start_ms} ms after window start, last ${d.last_after_window_end_ms} ms after window end)`,
    `cpu cores, first to last delivery (${c.seconds} s): worker ${c.worker} redis ${c.redis} bench ${c.bench}`,
    'second  delivered  backlog  worker  redis  bench  machine',
    ...buckets.map(
      (b) =>
        `${String(b.second).padStart(6)}  ${String(b.delivered).padStart(9)}  ${String(b.backlog).padStart(7)}  ${b.cpu_worker.toFixed(2).padStart(6)}  ${b.cpu_redis.toFixed(2).padStart(5)}  ${b.cpu_bench.toFixed(2).padStart(5)}  ${b.machine_busy_cores.toFixed(2).padStart(7)}`,
    ),
    '',
  ].join('\n'),
);
if (args.out) writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
