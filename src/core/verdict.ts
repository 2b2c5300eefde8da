// Did the committee reach consensus? gomel exits 0 even when it refused its
// input, and N = 3f+1 tolerates f broken nodes, so the evidence is read per
// node (test/vectors/gomel-2019-09/logs/README.md):
//   "E":"D" a prime unit was created, Q its level (a healthy node reaches LevelLimit);
//   "E":"E" a timing unit (round R);  "E":"Z" one ordered unit (creator C, height H);
//   "E":"A"/"B" a service started/stopped: a node that exits by itself stops all it started.

export interface LogStats {
  lines: number;
  maxLevel: number | undefined;
  timingRounds: number;
  /** Ordered units as "C:H", in order. */
  order: string[];
  servicesStarted: number;
  servicesStopped: number;
  errors: Map<string, number>;
  malformedLines: number;
}

export function newLogStats(): LogStats {
  return { lines: 0, maxLevel: undefined, timingRounds: 0, order: [], servicesStarted: 0, servicesStopped: 0, errors: new Map(), malformedLines: 0 };
}

// Most lines are sync chatter; only the few event kinds we need are parsed.
const EVENT = /"E":"([^"]*)"/;

export function addLogLine(stats: LogStats, line: string): void {
  if (line.trim() === '') return;
  stats.lines++;
  const event = EVENT.exec(line)?.[1];
  if (event === undefined) {
    stats.malformedLines++;
    return;
  }
  const wanted = event === 'D' || event === 'Z' || event === 'E' || event === 'A' || event === 'B';
  const isError = line.includes('"L":"3"');
  if (!wanted && !isError) return;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    stats.malformedLines++;
    return;
  }
  if (isError) {
    // Group errors by their text without addresses and numbers: "dial tcp …: connection refused".
    const key = String(record.E).replace(/\d+(\.\d+){3}(:\d+)?/g, '…').replace(/\d+/g, 'N');
    stats.errors.set(key, (stats.errors.get(key) ?? 0) + 1);
    return;
  }
  switch (event) {
    case 'D':
      if (typeof record.Q === 'number') stats.maxLevel = Math.max(stats.maxLevel ?? -1, record.Q);
      break;
    case 'E':
      stats.timingRounds++;
      break;
    case 'Z':
      stats.order.push(`${record.C}:${record.H}`);
      break;
    case 'A':
      stats.servicesStarted++;
      break;
    case 'B':
      stats.servicesStopped++;
      break;
  }
}

export interface NodeEvidence {
  pid: number;
  label: string; // e.g. "node1" or "pid 0"
  stats: LogStats | undefined; // undefined: no log found
  logProblem: string | undefined; // "empty log", "truncated gzip stream", …
  exitStatus: number | undefined; // from run.sh's exit_status, when present
  stderr: string | undefined; // from run.sh's stderr.txt, when present
}

export interface NodeVerdict {
  pid: number;
  label: string;
  reached: boolean;
  maxLevel: number | undefined;
  timingRounds: number;
  ordered: number;
  agrees: boolean | undefined;
  exitedByItself: boolean | undefined;
  exitStatus: number | undefined;
  reasons: string[];
}

export interface Divergence {
  position: number; // 1-based index in the order
  majority: { nodes: string[]; unit: string };
  minority: { nodes: string[]; unit: string };
}

export interface Verdict {
  n: number;
  levelLimit: number;
  nodes: NodeVerdict[];
  reachedBy: string[];
  divergences: Divergence[];
  all: boolean;
  summary: string;
}

function firstDifference(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Groups orders that agree on their common prefix; the largest group is the committee's order. */
function groupOrders(nodes: readonly NodeEvidence[]): { groups: NodeEvidence[][]; main: NodeEvidence[] | undefined } {
  const withOrder = nodes.filter((n) => (n.stats?.order.length ?? 0) > 0).sort((a, b) => b.stats!.order.length - a.stats!.order.length);
  const groups: NodeEvidence[][] = [];
  for (const node of withOrder) {
    const group = groups.find((g) => firstDifference(g[0]!.stats!.order, node.stats!.order) === -1);
    if (group) group.push(node);
    else groups.push([node]);
  }
  const main = [...groups].sort((a, b) => b.length - a.length || b[0]!.stats!.order.length - a[0]!.stats!.order.length)[0];
  return { groups, main };
}

// Dialing, EOF and accept time-outs are normal while peers start and stop
// (logs/README.md): name the most frequent error that is not such noise.
const NETWORK_NOISE = /dial tcp|EOF|i\/o timeout|connection (refused|reset)|broken pipe/;

const topError = (stats: LogStats): string | undefined => {
  const sorted = [...stats.errors].sort((a, b) => b[1] - a[1]);
  const [text, count] = sorted.find(([t]) => !NETWORK_NOISE.test(t)) ?? sorted[0] ?? [];
  return text ? `${count}× "${text}"` : undefined;
};

export function judge(evidence: readonly NodeEvidence[], n: number, levelLimit: number): Verdict {
  const { groups, main } = groupOrders(evidence);
  const divergences: Divergence[] = [];
  if (main) {
    const reference = main[0]!.stats!.order;
    for (const g of groups) {
      if (g === main) continue;
      const at = firstDifference(reference, g[0]!.stats!.order);
      divergences.push({
        position: at + 1,
        majority: { nodes: main.map((x) => x.label), unit: reference[at]! },
        minority: { nodes: g.map((x) => x.label), unit: g[0]!.stats!.order[at]! },
      });
    }
  }
  const nodes = evidence.map((e): NodeVerdict => {
    const reasons: string[] = [];
    const s = e.stats;
    const agrees = s && s.order.length > 0 ? Boolean(main?.includes(e)) : undefined;
    const exitedByItself = s ? s.servicesStarted > 0 && s.servicesStopped >= s.servicesStarted : undefined;
    if (!s) reasons.push(e.logProblem ?? 'no log');
    else {
      if (e.logProblem) reasons.push(e.logProblem);
      if (s.maxLevel === undefined) reasons.push('never created a prime unit');
      else if (s.maxLevel < levelLimit) reasons.push(`highest level ${s.maxLevel} < LevelLimit ${levelLimit}`);
      if (s.order.length === 0) reasons.push('ordered no units');
      if (agrees === false) reasons.push('its order diverges from the committee\'s');
      if (exitedByItself === false) reasons.push(e.exitStatus === undefined ? 'did not stop by itself (killed or still running)' : 'did not stop its services');
      if (reasons.length && s.errors.size) reasons.push(`errors: ${topError(s)}`);
    }
    if (e.exitStatus !== undefined && e.exitStatus !== 0) reasons.push(`exit status ${e.exitStatus}`);
    if (e.stderr?.trim()) reasons.push(`stderr: ${e.stderr.trim().split('\n')[0]}`);
    return {
      pid: e.pid,
      label: e.label,
      reached: reasons.length === 0,
      maxLevel: s?.maxLevel,
      timingRounds: s?.timingRounds ?? 0,
      ordered: s?.order.length ?? 0,
      agrees,
      exitedByItself,
      exitStatus: e.exitStatus,
      reasons,
    };
  });
  const reachedBy = nodes.filter((v) => v.reached).map((v) => v.label);
  const all = reachedBy.length === n && nodes.length === n;
  const failed = nodes.filter((v) => !v.reached);
  const missing = n - nodes.length;
  const summary = all
    ? `consensus reached by all ${n} nodes`
    : reachedBy.length === 0
      ? `consensus not reached: no node reached LevelLimit ${levelLimit} with an agreed order`
      : `consensus reached by ${reachedBy.length} of ${n} nodes (${reachedBy.join(', ')}); not by ${[...failed.map((v) => `${v.label} (${v.reasons[0]})`), ...(missing > 0 ? [`${missing} node(s) with no log`] : [])].join(', ')}`;
  return { n, levelLimit, nodes, reachedBy, divergences, all, summary };
}

// ---- The probe payload's reports (templates/probe/run.sh writes /extract/probe.txt).

export interface ProbeReport {
  pid: number | undefined;
  result: 'ok' | 'fail' | undefined;
  key: string | undefined;
  reached: number;
  unreached: string[];
  errors: string[];
}

export function parseProbeReport(text: string): ProbeReport {
  const report: ProbeReport = { pid: undefined, result: undefined, key: undefined, reached: 0, unreached: [], errors: [] };
  for (const line of text.split('\n')) {
    const [word, ...rest] = line.split(' ');
    if (word === 'pid') report.pid = Number(rest[0]);
    else if (word === 'result') report.result = rest[0] === 'ok' ? 'ok' : 'fail';
    else if (word === 'key') report.key = rest.join(' ');
    else if (word === 'error') report.errors.push(rest.join(' '));
    else if (word === 'peer') {
      if (rest[2] === 'ok') report.reached++;
      else report.unreached.push(`${rest[1]} ${rest.slice(2).join(' ')}`);
    }
  }
  return report;
}

export interface ProbeNodeVerdict {
  label: string;
  ok: boolean;
  reached: number;
  reasons: string[];
}

export function judgeProbes(reports: readonly { label: string; report: ProbeReport | undefined }[], n: number): { nodes: ProbeNodeVerdict[]; all: boolean; summary: string } {
  const nodes = reports.map(({ label, report }): ProbeNodeVerdict => {
    if (!report) return { label, ok: false, reached: 0, reasons: ['no probe report'] };
    const reasons = [...report.errors];
    if (report.key && report.key !== 'ok') reasons.push(`key ${report.key}`);
    if (report.unreached.length) reasons.push(`${report.unreached.length} address(es) not reached: ${report.unreached.slice(0, 3).join(', ')}${report.unreached.length > 3 ? ', …' : ''}`);
    if (report.result === undefined) reasons.push('report has no result (probe still running or killed)');
    else if (report.result === 'fail' && reasons.length === 0) reasons.push('probe failed');
    return { label, ok: report.result === 'ok' && reasons.length === 0, reached: report.reached, reasons };
  });
  const ok = nodes.filter((x) => x.ok);
  const all = ok.length === n && nodes.length === n;
  const summary = all
    ? `probe: all ${n} nodes reached every peer`
    : `probe: ${ok.length} of ${n} nodes reached every peer; failed: ${[...nodes.filter((x) => !x.ok).map((x) => `${x.label} (${x.reasons[0]})`), ...(n > nodes.length ? [`${n - nodes.length} node(s) with no report`] : [])].join(', ')}`;
  return { nodes, all, summary };
}
