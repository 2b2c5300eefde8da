// The report page: figures as tables, charts as inline SVG, one self-contained file.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../core/errors.js';
import type { RunFigures } from '../core/logs/run-stats.js';
import { compareSetups, configKnobs, networkSummary, shortImage, type RunSetup } from '../core/report/run-setup.js';
import {
  nodeBytesByService,
  type RunProtocolFigures,
  type SessionFigures,
  type Summary,
} from '../core/logs/protocol-stats.js';
import { NEAR_INSTANT_SECONDS, type Period, type RunFaults } from '../core/report/run-faults.js';
import type { ByzantineReport } from '../core/report/byzantine.js';
import { writeCharDevice, writeFileAtomic } from '../fs/atomic.js';
import { bytesPerSecond, perSecond } from '../core/report/throughput.js';
import { hostLoadText, type HostLoad } from '../core/logs/host-load.js';
import { fsProblem, isFsError } from '../fs/input.js';

export const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const fixed = (x: number | undefined, digits: number, unit = '') =>
  x === undefined ? '–' : `${x.toFixed(digits)}${unit}`;
const mb = (bytes: number | undefined) => (bytes === undefined ? '–' : `${(bytes / 1e6).toFixed(2)} MB`);

export interface PageRun {
  name: string;
  consensusLine: string;
  shutdownLine: string;
  figures: RunFigures;
  /** The config and network conditions, when the config was found. */
  setup?: RunSetup;
  /** The fault plan and how the run fared around each event, when it had one. */
  faults?: RunFaults;
  /** Who lied (a twin), how, and what the correct nodes' logs show of it, when a node lied. */
  byzantine?: ByzantineReport;
  /** gomel's own figures: unit creation, decisions, sync sessions, traffic sent against delivered. */
  protocol?: RunProtocolFigures;
}

const secs = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(2)} s`);
const periodText = (p: Period | undefined) =>
  p
    ? `${p.unitsPerSecond.toFixed(1)} units/s, latency p50 ${p.latencyP50Ms === undefined ? '–' : `${(p.latencyP50Ms / 1000).toFixed(2)} s`} (${p.fromSeconds.toFixed(1)}–${p.toSeconds.toFixed(1)} s)`
    : '–';

/** Who lied and how, the heights it equivocated at, when each correct node saw it, the committee before and after. */
function byzantineSection(run: PageRun, many: boolean): string {
  const b = run.byzantine;
  if (!b) return '';
  const liars = b.liars.map((l) => {
    const head = [
      'correct node',
      'saw the fork at',
      'held both versions by',
      'heights ordered twice',
      'errors about a fork',
      `${l.label}'s units ordered after`,
    ];
    const rows = l.seenBy.map((x) => {
      const cells = [
        x.node,
        secs(x.detectedSeconds),
        secs(x.bothVersionsBySeconds),
        String(x.heightsOrderedTwice),
        String(x.forkErrors),
        String(x.orderedAfter),
      ];
      return `<tr class="${x.detectedSeconds === undefined ? 'marked' : ''}">${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
    });
    return `<h3>${esc(l.label)} and ${esc(l.twinLabel)}</h3>
<p>Units created: ${l.created[0]} by ${esc(l.label)}, ${l.created[1]} by ${esc(l.twinLabel)}. Heights ordered in both versions: ${l.equivocatedCount ? `${l.equivocatedCount} (${esc(l.equivocated)})` : 'none'}.</p>
<table class="byzantine"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>
<p>Before the first correct node saw the fork: ${esc(periodText(l.before))}. After: ${esc(periodText(l.after))}.</p>`;
  });
  return `<h2>Byzantine${many ? ` in ${esc(run.name)}` : ''}</h2>
<ul class="byzantine">${b.lines.map((line) => `<li>${esc(line)}</li>`).join('')}</ul>
${liars.join('\n')}
<p>gomel logs no unit hash: a correct node's sight of the fork is a unit of the liar's pid ordered twice at one height (both versions are ordered), or an error about a fork (a ComplianceError). Times on the common clock.</p>`;
}

/** The plan's events, who it made faulty, and each event's window with the committee's throughput and latency around it. */
function faultsSection(run: PageRun, many: boolean): string {
  const f = run.faults;
  if (!f) return '';
  const who = (list: readonly { why: string; label?: string; host?: string }[]) =>
    list.length ? list.map((x) => `${x.label ?? x.host} (${x.why})`).join('; ') : 'none';
  const head = ['event', 'nodes', 'planned', 'applied', 'before', 'during', 'after', 'recovery after the end'];
  const rows = f.windows.map((w) => {
    const planned = `${secs(w.plannedFromSeconds)}${w.plannedUntilSeconds === undefined ? '' : ` – ${secs(w.plannedUntilSeconds)}`}`;
    const applied = `applied by ${w.appliedBy} of ${w.nodes.length} nodes${w.appliedFromSeconds === undefined ? '' : ` at ${secs(w.appliedFromSeconds)}`}${w.appliedUntilSeconds === undefined ? '' : `, ended ${secs(w.appliedUntilSeconds)}`}${w.failed.length ? `; ${w.failed.join('; ')}` : ''}`;
    const late = Object.entries(w.nodesRecoverySeconds ?? {}).map(
      ([node, s]) => `${node} ${s === undefined ? 'never ordered again' : `ordered again after ${secs(s)}`}`,
    );
    const recovery =
      w.plannedUntilSeconds === undefined
        ? '–'
        : [
            `committee: ${w.recoverySeconds === undefined ? 'never ordered again' : secs(w.recoverySeconds)}`,
            ...late,
          ].join('; ');
    const cells = [
      w.event,
      w.nodes.join(', '),
      planned,
      applied,
      periodText(w.before),
      periodText(w.during),
      periodText(w.after),
      recovery,
    ];
    return `<tr class="${w.failed.length ? 'marked' : ''}">${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  });
  return `<h2>Faults${many ? ` in ${esc(run.name)}` : ''}</h2>
<ul class="faults">${f.events.map((e) => `<li><code>${esc(e)}</code></li>`).join('')}</ul>
<p>Faulty (by the nodes' faults.log, or a host the engine lost): ${esc(who(f.faulty))}. Planned, not applied: ${esc(who(f.notApplied))}. Delayed but correct: ${esc(who(f.delayed))}.</p>
<table class="faults"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>
<p>Times on the common clock. Before and after are as long as the window (${NEAR_INSTANT_SECONDS} s either side of a crash, stop or restart), cut where the run begins or ends; units/s counts the committee's order (a unit counts when its first node orders it); latency is of the own units nodes ordered in the period.</p>
${f.malformed.length ? `<p>Unreadable faults.log lines: ${esc(f.malformed.join('; '))}</p>` : ''}`;
}

const ms = (s: Summary | undefined) => (s ? `${s.median.toFixed(0)} / ${s.p90.toFixed(0)} ms` : '–');
const pct = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(1)} %`);

/** gomel's own figures (core/logs/protocol-stats.ts): creation, decisions, each sync service's sessions, and traffic as sent against as read by the peers. */
function protocolSection(run: PageRun, many: boolean): string {
  const p = run.protocol;
  if (!p || p.nodes === 0) return '';
  const over = (c: { total: number; median: number; min: number; max: number }) =>
    `${c.total} (per node median ${c.median}, ${c.min}–${c.max})`;
  const creation: [string, string][] = [
    ['units created', over(p.unitsCreated)],
    ['parents per unit (mean)', p.parentsPerUnit ? p.parentsPerUnit.mean.toFixed(2) : '–'],
    ['creation interval, median / p90', ms(p.creationIntervalMs)],
    ['failed creation attempts', over(p.failedCreationAttempts)],
    ['timing units', over(p.timingUnits)],
    ['decision depth (mean levels above the timing unit)', p.decisionDepth ? p.decisionDepth.mean.toFixed(2) : '–'],
  ];
  const sides: [string, SessionFigures][] = [];
  for (const service of ['gossip', 'fetch', 'rmc'] as const) {
    for (const side of ['out', 'in'] as const)
      if (p[service][side].attempts > 0)
        sides.push([`${service} ${side === 'out' ? 'out (asked)' : 'in (served)'}`, p[service][side]]);
  }
  const sessionHead = [
    'service',
    'attempts',
    'completed',
    'failed',
    'unfinished',
    'duration median / p90',
    'units sent / received',
    'duplicates',
    'unknown parents',
    'missing parents',
  ];
  const sessionRows = sides.map(([name, f]) => {
    const cells = [
      name,
      String(f.attempts),
      String(f.completed),
      String(f.failed),
      String(f.unfinished),
      ms(f.durationMs),
      `${f.unitsSent} / ${f.unitsReceived}`,
      String(f.duplicates),
      String(f.unknownParents),
      String(f.missingParents),
    ];
    return `<tr class="${f.attempts >= 20 && f.completed < f.attempts / 2 ? 'marked' : ''}">${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  });
  const m = p.multicast;
  const multicast =
    m.unitsBroadcast + m.unitsReceived > 0
      ? `<p>Multicast: ${m.unitsBroadcast} units broadcast (${m.broadcastFailed} failed), ${m.unitsReceived} received, ${m.unitsAdded} added, ${m.duplicates} duplicates, ${m.unknownParents} with unknown parents.</p>`
      : '';
  const trafficRows = p.traffic.map((t) => {
    const units = t.unitsSent !== undefined ? ` (units: ${t.unitsSent} sent, ${t.unitsDelivered ?? 0} delivered)` : '';
    const cells = [t.service, mb(t.bytesSent), mb(t.bytesReceived), pct(t.deliveredPercent) + units];
    return `<tr class="${t.deliveredPercent !== undefined && t.deliveredPercent < 90 ? 'marked' : ''}">${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  });
  return `<h2>Inside gomel${many ? `: ${esc(run.name)}` : ''}</h2>
${p.flags.length ? `<ul class="flags">${p.flags.map((f) => `<li class="marked">${esc(f)}</li>`).join('')}</ul>` : ''}
<table class="protocol"><tbody>${creation.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</tbody></table>
<table class="sessions"><thead><tr>${sessionHead.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${sessionRows.join('')}</tbody></table>
${multicast}
<table class="traffic"><thead><tr><th>service</th><th>sent (written by the senders)</th><th>delivered (read by the peers)</th><th>delivered</th></tr></thead><tbody>${trafficRows.join('')}</tbody></table>
<p>Over ${p.nodes} nodes' logs. gomel counts a byte as sent when it is written to its connection's buffer, flushed or not; delivered is what the peers read. A session's service is told by its first lines (gomel leaves the service off its sync-session lines).</p>`;
}

/** The images a run's nodes ran, digests cut short; logs collected before deploy logs recorded them say so. */
function imagesText(s: RunSetup, brief = false): string {
  if (s.images.length === 0)
    return brief ? 'not recorded' : 'not recorded (logs collected before deploy logs recorded it)';
  return s.images.length === 1
    ? shortImage(s.images[0]!)
    : `${s.images.length} images: ${s.images.map(shortImage).join(', ')}`;
}

/** The start skew in words, with what it was measured from; `brief` (a table cell) names only the coarse source. */
function skewText(f: RunFigures, brief = false): string {
  if (f.startSkewSeconds === undefined) return '–';
  const skew = `${f.startSkewSeconds.toFixed(2)} s`;
  if (f.startSkewSource === 'started_at') return brief ? skew : `${skew} (run.sh's record)`;
  return `${skew} (genesis lines, 1 s resolution)`;
}

/**
 * What was run, for several runs: one row each (N, LevelLimit and the knobs in which the
 * runs differ, network conditions, faults, image, start skew), and the knobs alike in
 * all said once below it — a page comparing four runs need not repeat one config four times.
 */
function setupComparison(runs: readonly PageRun[]): string {
  const { shared, differing } = compareSetups(runs.map((r) => ({ setup: r.setup, nodes: r.figures.nodes })));
  const head = ['run', 'N', 'config', 'network conditions', 'faults', 'image', 'start skew'];
  const rows = runs.map((r, i) => {
    const s = r.setup;
    const knobs = differing[i] ?? [];
    const config = s
      ? [`LevelLimit ${s.levelLimit}`, ...knobs.map(([k, v]) => `${k} ${v}`)].join('; ')
      : 'not found (no conf.json beside the logs, no --config)';
    const f = r.faults;
    const faults = f
      ? `${f.windows.map((w) => w.event).join(', ') || 'a plan with no events'}${f.faulty.length ? ` (${f.faulty.length} faulty)` : ''}`
      : 'none';
    const cells = [
      r.name,
      String(r.figures.nodes),
      config,
      s ? networkSummary(s) : '–',
      faults,
      s ? imagesText(s, true) : '–',
      skewText(r.figures, true),
    ];
    return `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  });
  const alike = shared.length
    ? `<p class="setup-shared">Alike in every run: ${shared.map(([k, v]) => `${esc(k)} <code>${esc(v)}</code>`).join('; ')}.</p>`
    : '';
  return `<table class="setup-runs"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>
${alike}`;
}

/** The config knobs the figures depend on, the sync services, and the network conditions per group of nodes. */
function setupTable(run: PageRun): string {
  const s = run.setup;
  if (!s) return '<p>The config the run used was not found: no conf.json beside the logs, and no --config.</p>';
  const rows: [string, string][] = [
    ['config file', s.configFile],
    ['LevelLimit', String(s.levelLimit)],
    ...configKnobs(s),
    ...(s.network.length
      ? s.network.map((g): [string, string] => [g.nodes.join(', '), g.conditions])
      : [['network conditions', 'none applied (no --net or --zones)'] as [string, string]]),
    ['image', imagesText(s)],
  ];
  return `<table class="setup"><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</tbody></table>`;
}

function clockText(f: RunFigures): string {
  if (f.clock.source === 'own' || f.clock.startWallSeconds === undefined)
    return "each node's own start: no start records, so no common clock";
  const when = new Date(f.clock.startWallSeconds * 1000).toISOString().replace('T', ' ').replace('Z', ' UTC');
  return `the first node's start, ${when} (${f.clock.source === 'started_at' ? "run.sh's started_at" : "gomel's genesis lines, to the second"})`;
}

/** A node's start on the common clock, and whether it learned the common start late (start_plan). */
function offsetText(n: RunFigures['perNode'][number]): string {
  if (n.startOffsetSeconds === undefined) return '–';
  return `+${n.startOffsetSeconds.toFixed(2)} s${n.startLateSeconds ? ` (learned the start ${n.startLateSeconds.toFixed(2)} s late)` : ''}`;
}

/** The figures that compare across runs: one row each, one column per run. */
function figureRows(runs: readonly PageRun[]): string {
  // A median over fewer nodes than the committee says over how many (the others never got there).
  const of = (f: RunFigures, count: number) => (count < f.nodes ? ` (${count} of ${f.nodes} nodes)` : '');
  const rows: [string, (f: RunFigures, run: PageRun) => string][] = [
    ['nodes', (f) => String(f.nodes)],
    ['units in the agreed order', (f) => String(f.agreedUnits)],
    [
      'time to order them (median node)',
      (f) => fixed(f.orderingSeconds, 2, ' s') + (f.orderingSeconds === undefined ? '' : of(f, f.orderingNodes)),
    ],
    ['units ordered per second', (f) => fixed(f.unitsPerSecond, 1)],
    [
      'transactions per second (units/s × Txpu, 100 bytes each)',
      (f) =>
        f.transactionsPerSecond === undefined
          ? '–'
          : `${perSecond(f.transactionsPerSecond)} (${bytesPerSecond(f.payloadBytesPerSecond!)} payload; Txpu ${f.txpu})`,
    ],
    [
      'own-unit latency p50 / p90 / p99 / max',
      (f) =>
        f.latencyMs
          ? [f.latencyMs.p50, f.latencyMs.p90, f.latencyMs.p99, f.latencyMs.max]
              .map((x) => `${(x / 1000).toFixed(2)}`)
              .join(' / ') + ' s'
          : '–',
    ],
    [
      'timing-round interval median / p90',
      (f) =>
        f.timingIntervalMs
          ? `${(f.timingIntervalMs.median / 1000).toFixed(2)} / ${(f.timingIntervalMs.p90 / 1000).toFixed(2)} s`
          : '–',
    ],
    [
      'time to reach LevelLimit median / max',
      (f) =>
        f.levelLimitSeconds
          ? `${f.levelLimitSeconds.median.toFixed(2)} / ${f.levelLimitSeconds.max.toFixed(2)} s${of(f, f.levelLimitSeconds.nodes)}`
          : '–',
    ],
    ['clock (t = 0)', (f) => clockText(f)],
    // Compared, the start skew is in the What was run table.
    ...(runs.length === 1
      ? [['start skew', (f: RunFigures) => skewText(f)] as [string, (f: RunFigures) => string]]
      : []),
    [
      'traffic written / read by the peers, all nodes',
      (_, r) => ((b) => (b ? `${mb(b.written)} / ${mb(b.read)}` : '–'))(runBytes(r)),
    ],
    ['peak memory, largest node', (f) => mb(Math.max(0, ...f.perNode.map((n) => n.peakMemory ?? 0)) || undefined)],
    ['host CPUs kept busy by the nodes', (f) => (f.hostLoad ? hostLoadCell(f.hostLoad) : 'not recorded')],
  ];
  return `<table class="figures"><thead><tr><th></th>${runs.map((r) => `<th>${esc(r.name)}</th>`).join('')}</tr></thead><tbody>${rows
    .map(
      ([label, cell]) =>
        `<tr><th>${esc(label)}</th>${runs.map((r) => `<td>${esc(cell(r.figures, r))}</td>`).join('')}</tr>`,
    )
    .join('')}</tbody></table>`;
}

/**
 * Each host's share of its CPUs the nodes used over the run (their containers' CPU time), and
 * HOST-BOUND when one was at least 90% busy: the figures then measure the machine as much as gomel.
 */
function hostLoadCell(load: HostLoad): string {
  const hosts = load.hosts
    .map(
      (h) =>
        `${load.hosts.length > 1 ? `${h.host}: ` : ''}${Math.round(h.busy * 100)}% of ${h.cpus} CPUs (${h.cpuSeconds.toFixed(1)} CPU-s over ${h.wallSeconds.toFixed(1)} s, ${h.nodes} nodes)`,
    )
    .join('; ');
  const unrecorded = load.unrecorded ? `; ${load.unrecorded} node(s) recorded none` : '';
  return `${load.hostBound ? 'HOST-BOUND: ' : ''}${hosts}${unrecorded}`;
}

/** Bytes written and read over the run (the Inside gomel attribution, unattributed bytes included), or undefined without its figures. */
function runBytes(run: PageRun): { written: number; read: number } | undefined {
  const p = run.protocol;
  if (!p || p.nodes === 0) return undefined;
  const all = p.perNode.flatMap((n) => nodeBytesByService(n));
  return { written: all.reduce((a, b) => a + b.written, 0), read: all.reduce((a, b) => a + b.read, 0) };
}

function nodeTable(run: PageRun): string {
  // Each node's bytes by service as Inside gomel counts them: the columns add up to its traffic table.
  const bytes = new Map((run.protocol?.perNode ?? []).map((n) => [n.label, nodeBytesByService(n)]));
  const order = ['gossip', 'fetch', 'multicast', 'rmc', 'unattributed'];
  const services = order.filter((s) => [...bytes.values()].some((list) => list.some((b) => b.service === s)));
  const total = (list: ReturnType<typeof nodeBytesByService> | undefined, way: 'written' | 'read') =>
    list ? list.reduce((a, b) => a + b[way], 0) : undefined;
  const shaped = run.figures.perNode.some((n) => n.network);
  const head = [
    'node',
    'consensus',
    'shutdown',
    'start offset',
    'LevelLimit at',
    ...(shaped ? ['network conditions'] : []),
    'written',
    'read',
    ...services.map((s) => `${s} written / read`),
    'peak memory',
  ];
  const body = run.figures.perNode.map((n) => {
    const own = bytes.get(n.label);
    const cells = [
      n.label,
      n.reached ? 'yes' : 'NO',
      n.shutdown,
      offsetText(n),
      fixed(n.levelLimitSeconds, 2, ' s'),
      ...(shaped ? [n.network ?? 'none'] : []),
      mb(total(own, 'written')),
      mb(total(own, 'read')),
      ...services.map((s) =>
        ((b) => (b ? `${mb(b.written)} / ${mb(b.read)}` : '–'))(own?.find((b) => b.service === s)),
      ),
      mb(n.peakMemory),
    ];
    return `<tr class="${n.reached && n.shutdown === 'clean' ? '' : 'marked'}">${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  });
  return `<table class="nodes"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

/** Every page's look: tables, marked rows (a failed node, a host-bound run), charts side by side. */
export const PAGE_STYLE = `<style>
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1300px; }
table { border-collapse: collapse; margin: 1em 0; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
tr.marked td, li.marked { background: #fdecea; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; }
</style>`;

export function reportPage(
  title: string,
  runs: readonly PageRun[],
  charts: readonly { title: string; svg: string }[],
): string {
  const verdicts = runs
    .map((r) => {
      // Said beside the verdict: figures of a saturated host must not be read as gomel's.
      const load = r.figures.hostLoad;
      const bound = load?.hostBound
        ? `<br>${esc(hostLoadText(load))} — the figures measure this machine as much as gomel`
        : '';
      return `<li${bound ? ' class="marked"' : ''}><b>${esc(r.name)}</b>: ${esc(r.consensusLine)}<br>${esc(r.shutdownLine)}${bound}</li>`;
    })
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>${REPORT_MARK}
${PAGE_STYLE}</head><body>
<h1>${esc(title)}</h1>
<ul class="verdicts">${verdicts}</ul>
<h2>What was run</h2>
${runs.length === 1 ? setupTable(runs[0]!) : setupComparison(runs)}
<h2>Figures</h2>
${figureRows(runs)}
${runs.map((r) => faultsSection(r, runs.length > 1)).join('\n')}
${runs.map((r) => byzantineSection(r, runs.length > 1)).join('\n')}
${runs.map((r) => protocolSection(r, runs.length > 1)).join('\n')}
<h2>Charts</h2>
<div class="charts">${charts.map((c) => `<figure data-chart="${esc(c.title)}">${c.svg}</figure>`).join('\n')}</div>
${runs.map((r) => `<h2>Nodes of ${esc(r.name)}</h2>${nodeTable(r)}`).join('\n')}
<p>Written by gomelctl report. Times are on the run's common clock: t = 0 is the first node's start, and a node's own times (gomel's T field) move by its start offset. Latency is from a node's unit being created to that node ordering it.</p>
</body></html>
`;
}

const statOrUndefined = (p: string) =>
  fs.stat(p).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));

/**
 * Writes the page to `file`, atomically (a temp file beside it, renamed): a link
 * there is replaced, never written through (logs/report.html → ~/.bashrc keeps
 * ~/.bashrc). Every failure names `file`, the path the user gave, never the temp
 * file (N78). A character device such as /dev/null or /dev/stdout is written to
 * directly: renaming over it would replace it, and it has no bytes to lose.
 */
/** A file's first bytes, only to look for the mark: never printed (it may be a key). */
async function head(file: string): Promise<string> {
  const handle = await fs.open(file, 'r');
  try {
    const buffer = Buffer.alloc(512);
    const { bytesRead } = await handle.read(buffer, 0, 512, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** In every page's head: what makes a file one gomelctl may write over. */
export const REPORT_MARK = '<meta name="generator" content="gomelctl report">';
/** A report of this gomelctl (its mark), or of one before the mark (its opening, to its title). */
const isReport = (head: string): boolean =>
  head.includes(REPORT_MARK) ||
  /^<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>gomel runs? /.test(head);

export async function writeReport(file: string, html: string, own = false): Promise<void> {
  const target = await checkReportOut(file, own);
  try {
    if (target === 'device') {
      if (await writeCharDevice(file, html)) return;
      throw badOut(file, 'is not a regular file'); // swapped since it was looked at
    }
    await writeFileAtomic(file, html);
  } catch (error) {
    throw isFsError(error) ? fsProblem(error, file, 'report file', file) : error;
  }
}

const OUT_FIX = 'pass --out a file name in an existing folder, e.g. report.html';
/**
 * A place the page cannot go: a bad --out, refused before anything is written, so exit 2 as a link or
 * another's file there is (a folder, a FIFO or a missing folder were exit 1: hostile pass h8).
 */
const badOut = (file: string, what: string, fix = OUT_FIX) => new UsageError(`report --out ${file}: ${what} — ${fix}`);

/**
 * Refuses a --out the page cannot be written to — a folder, a FIFO, a file that is not a report
 * gomelctl wrote, a missing folder or one that is a file — in one line naming it; 'device' for a
 * character device (written to directly). `report` asks before it reads the runs and draws the
 * charts (a second or more of CPU), writeReport again as it writes. A link the user names is refused
 * (hostile pass N11: `--out X` replaced the user's link X): only the page's own place in a folder
 * gomelctl writes (`own`: <logs>/report.html, an experiment's) has its link replaced, as deploy logs
 * replaces one at a name it writes in its folder. A link to a character device (/dev/stdout) is
 * written to as the device is: nothing is replaced, and a device has no bytes to lose.
 */
export async function checkReportOut(file: string, own = false): Promise<'device' | 'file'> {
  try {
    const entry = await fs.lstat(file).catch(() => undefined);
    const target = await statOrUndefined(file);
    if (entry?.isSymbolicLink() && !own && !target?.isCharacterDevice())
      throw new UsageError(
        `report --out ${file}: a symbolic link (to ${await fs.readlink(file)}); gomelctl neither writes through a link nor replaces one — pass the file it points to, or another --out`,
      );
    if (target?.isDirectory())
      throw badOut(file, 'is a folder', `pass a file name inside it, e.g. --out ${path.join(file, 'report.html')}`);
    if (target?.isCharacterDevice()) return 'device';
    // A FIFO is refused rather than waited on: nobody may ever read it.
    if (target && !target.isFile())
      throw badOut(file, target.isFIFO() ? 'is a named pipe (FIFO), not a file' : 'is not a regular file');
    // A file there is overwritten only if it is a report gomelctl wrote: --out keys/0.pk or a run's own
    // log must not become a page (a link of its own place is replaced, its target untouched: never through it).
    if (entry?.isFile() && !isReport(await head(file)))
      throw new UsageError(
        `report --out ${file}: the file exists and is not a report gomelctl wrote; give another --out, or move it away`,
      );
    const dir = path.dirname(file);
    const parent = await statOrUndefined(dir);
    if (!parent) throw badOut(file, `its folder ${dir} does not exist`, `create it first, or ${OUT_FIX}`);
    if (!parent.isDirectory()) throw badOut(file, `${dir} is a file, not a folder`);
    return 'file';
  } catch (error) {
    if (isFsError(error) && error.code === 'ENOTDIR')
      throw badOut(file, 'a part of the path is a file, not a folder', OUT_FIX);
    throw isFsError(error) ? fsProblem(error, file, 'report file', file) : error;
  }
}
