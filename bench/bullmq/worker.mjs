// The BullMQ consumer of bench.mjs, forked by it so that its CPU is its own. Its
// processor only notes which job arrived when and how late; the parent does the
// counting. Settings chosen to let BullMQ go as fast as it safely can:
//   - concurrency (--concurrency, default 200): BullMQ fetches one job per
//     moveToActive script and the next one inside moveToFinished, so only many jobs
//     in flight keep the connection's pipeline full; 50, 200 and 500 measured alike,
//     Redis's one thread being the limit.
//   - removeOnComplete: { count: 0 }, on the worker rather than on each job (no
//     extra bytes in every job's opts): a completed job is deleted at once, as our
//     service forgets a sent reminder, so the memory compared is the pending one.
//   - removeOnFail: { count: 1000 }: failures kept for inspection, but bounded.
//   - defaults kept where they buy safety: lock renewal and the stalled-job check
//     (at-least-once, as our lease gives), drainDelay 5 s (the worker then blocks on
//     the marker key until the next delayed job is due, so an idle queue costs
//     nothing), no metrics, no rate limiter.
import { Worker } from 'bullmq';

const opts = JSON.parse(process.argv[2]);
const redisUrl = new URL(opts.redisUrl);

// Parallel arrays, flushed to the parent every FLUSH_MS: ids and times of the jobs
// received since the last flush.
const FLUSH_MS = 250;
const CAPACITY = 65536;
let ids = new Int32Array(CAPACITY);
let receivedAt = new Float64Array(CAPACITY);
let lateness = new Int32Array(CAPACITY);
let used = 0;

function flush() {
  if (used === 0) return;
  process.send({
    type: 'jobs',
    ids: ids.slice(0, used),
    receivedAt: receivedAt.slice(0, used),
    lateness: lateness.slice(0, used),
  });
  used = 0;
}

function record(job) {
  const now = Date.now();
  if (used === CAPACITY) flush();
  ids[used] = Number(job.id);
  receivedAt[used] = now;
  lateness[used] = now - Date.parse(job.data.due_at);
  used += 1;
}

const worker = new Worker(
  opts.queue,
  async (job) => {
    record(job);
  },
  {
    connection: {
      host: redisUrl.hostname,
      port: Number(redisUrl.port || 6379),
      // Required by BullMQ for its blocking connection.
      maxRetriesPerRequest: null,
    },
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    removeOnComplete: { count: 0 },
    removeOnFail: { count: 1000 },
    autorun: false,
  },
);
worker.on('error', (err) => {
  process.stderr.write(`bullmq worker: ${err?.stack ?? err}\n`);
});

const flusher = setInterval(flush, FLUSH_MS);

process.on('message', async (msg) => {
  if (msg?.type !== 'stop') return;
  // close() lets the jobs in flight finish, so their records come before "stopped".
  await worker.close();
  clearInterval(flusher);
  flush();
  process.send({ type: 'stopped' }, () => process.exit(0));
});
process.on('disconnect', () => process.exit(0));

await worker.waitUntilReady();
process.send({ type: 'ready' });
worker.run().catch((err) => {
  process.stderr.write(`bullmq worker: run failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
