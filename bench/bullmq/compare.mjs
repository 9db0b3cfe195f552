// `bench/run.sh reminders --compare`: ours beside BullMQ (bunched and spread), as a table
// on stdout and as JSON.
//   node compare.mjs OURS.json BULLMQ_BUNCHED.json BULLMQ_SPREAD.json OUT.json
// Ratios are ours / BullMQ's: throughput above 1 and p99 or bytes below 1 favour ours.
import { readFileSync, writeFileSync } from 'node:fs';

const [oursPath, bunchedPath, spreadPath, outPath] = process.argv.slice(2);
if (!outPath) {
  process.stderr.write('usage: node compare.mjs OURS.json BULLMQ_BUNCHED.json BULLMQ_SPREAD.json OUT.json\n');
  process.exit(2);
}
const read = (path) => JSON.parse(readFileSync(path, 'utf8'));
const runs = { ours: read(oursPath), bullmq_bunched: read(bunchedPath), bullmq_spread: read(spreadPath) };

/** The figures compared, from either report shape. */
function figures(r) {
  const d = r.dispatch ?? {};
  return {
    throughput_per_sec: d.throughput_per_sec ?? null,
    lateness_p50_ms: d.lateness_ms?.p50 ?? null,
    lateness_p99_ms: d.lateness_ms?.p99 ?? null,
    lateness_max_ms: d.lateness_ms?.max ?? null,
    bytes_per_pending_reminder: r.redis?.bytes_per_pending_reminder ?? null,
    duplicates: d.duplicates ?? null,
    lost: d.lost ?? (d.expected != null && d.distinct != null ? d.expected - d.distinct : null),
  };
}
const table = Object.fromEntries(Object.entries(runs).map(([k, r]) => [k, figures(r)]));

const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? Math.round((a / b) * 1000) / 1000 : null);
const ratios = {};
for (const against of ['bullmq_bunched', 'bullmq_spread']) {
  ratios[`ours_over_${against}`] = {
    throughput: ratio(table.ours.throughput_per_sec, table[against].throughput_per_sec),
    lateness_p99: ratio(table.ours.lateness_p99_ms, table[against].lateness_p99_ms),
    bytes_per_pending_reminder: ratio(table.ours.bytes_per_pending_reminder, table[against].bytes_per_pending_reminder),
  };
}

const rows = [
  ['throughput/s', 'throughput_per_sec', 'throughput'],
  ['lateness p50 ms', 'lateness_p50_ms'],
  ['lateness p99 ms', 'lateness_p99_ms', 'lateness_p99'],
  ['lateness max ms', 'lateness_max_ms'],
  ['B / pending reminder', 'bytes_per_pending_reminder', 'bytes_per_pending_reminder'],
  ['duplicates', 'duplicates'],
  ['lost', 'lost'],
];
const cell = (v, digits = 1) =>
  v === null || v === undefined ? '-' : typeof v === 'number' ? String(Math.round(v * 10 ** digits) / 10 ** digits) : String(v);
const widths = [22, 12, 16, 16, 14];
const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' ');
const out = [
  '',
  '== reminder dispatch: ours vs BullMQ (same jobs, window and Redis settings) ==',
  line(['', 'ours', 'BullMQ bunched', 'BullMQ spread', 'ours/bunched']),
  ...rows.map(([label, key, r]) =>
    line([label, cell(table.ours[key]), cell(table.bullmq_bunched[key]), cell(table.bullmq_spread[key]), r ? cell(ratios.ours_over_bullmq_bunched[r], 3) : '']),
  ),
  '(ratios are ours / BullMQ: throughput above 1, p99 and bytes below 1 favour ours)',
  '',
];
process.stdout.write(out.join('\n'));
writeFileSync(outPath, `${JSON.stringify({ figures: table, ratios, reports: runs }, null, 2)}\n`);
