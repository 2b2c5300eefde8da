// The probe payload's reports (templates/probe/run.sh writes /extract/probe.txt).
import { InputError } from '../errors.js';
import { redactKeyMaterial } from '../keys/secrets.js';
import { clip, groupNames, type NameGroup } from '../summary.js';

/** The committee a probe asked: each address (committee.ka's, the probe's peer lines) to the pid whose line holds it. */
export type ProbeCommittee = ReadonlyMap<string, number>;

export function probeCommittee(members: readonly { addresses: readonly string[] }[]): ProbeCommittee {
  return new Map(members.flatMap((m, pid) => m.addresses.map((a) => [a, pid] as const)));
}

interface ProbeReport {
  pid: number | undefined;
  result: 'ok' | 'fail' | undefined;
  key: string | undefined;
  /**
   * The committee's addresses reported reached, each once, and only under the pid whose committee line
   * holds it: a forged report listed one address 12 times, or 12 addresses of no member (hostile pass B12).
   */
  reached: Set<string>;
  /** `ok` peer lines naming an address outside the committee, or under another pid than its line's. */
  strangers: number;
  /** The first addresses not reached (as many as the committee has), each clipped; `unreachedCount` counts them all. */
  unreached: string[];
  unreachedCount: number;
  /** The first MAX_PROBE_ERRORS error lines, each clipped; `errorCount` counts them all. */
  errors: string[];
  errorCount: number;
}

/**
 * What is kept of a report, read in its head (2 MiB): run.sh writes a line per committee address and
 * one error at most, so more is forged; 128 reports of error lines kept whole took 2.1 GB (hostile pass B8).
 */
const MAX_PROBE_ERRORS = 3;
const PROBE_TEXT = 200;

/**
 * The lines templates/probe/run.sh writes once (`say`, each at most once before it exits; it empties the
 * report first). A second one is a second report in the file: two appended reports let the last pid and
 * result win and their reached addresses add up (hostile re-pass N10).
 */
const ONCE = new Set(['pid', 'config', 'nodes', 'key', 'reached', 'result']);

/**
 * A probe report (`file`, named in errors), against the committee it asked (as many unreached addresses
 * are kept as it has). Its key and error lines are redacted (redactKeyMaterial): a report quoting a
 * private key must not have the verdict print it (hostile pass B11).
 */
export function parseProbeReport(text: string, committee: ProbeCommittee, file = 'probe.txt'): ProbeReport {
  const report: ProbeReport = {
    pid: undefined,
    result: undefined,
    key: undefined,
    reached: new Set(),
    strangers: 0,
    unreached: [],
    unreachedCount: 0,
    errors: [],
    errorCount: 0,
  };
  const firstAt = new Map<string, number>();
  for (const [i, line] of text.split('\n').entries()) {
    const [word = '', ...rest] = line.split(' ');
    if (ONCE.has(word)) {
      const first = firstAt.get(word);
      if (first !== undefined)
        throw new InputError(
          file,
          `${i + 1}`,
          `a second "${word}" line (the first is line ${first}): a probe writes one report, and this file holds more`,
          'collect the logs again with `gomelctl deploy logs`, or keep one report in the file',
        );
      firstAt.set(word, i + 1);
    }
    if (word === 'pid') report.pid = Number(rest[0]);
    else if (word === 'result') report.result = rest[0] === 'ok' ? 'ok' : 'fail';
    else if (word === 'key') report.key = clip(redactKeyMaterial(rest.join(' ')), PROBE_TEXT);
    else if (word === 'error' && report.errorCount++ < MAX_PROBE_ERRORS)
      report.errors.push(clip(redactKeyMaterial(rest.join(' ')), PROBE_TEXT));
    else if (word === 'peer') {
      if (rest[2] === 'ok') {
        if (committee.get(rest[1]!) === Number(rest[0])) report.reached.add(rest[1]!);
        else report.strangers++;
      } else if (report.unreachedCount++ < committee.size)
        report.unreached.push(clip(redactKeyMaterial(`${rest[1]} ${rest.slice(2).join(' ')}`), PROBE_TEXT));
    }
  }
  return report;
}

interface ProbeNodeVerdict {
  label: string;
  ok: boolean;
  reached: number;
  /** What went wrong, in a few words that are the same for every node it happened to (the summary groups by it). */
  problem: string | undefined;
  reasons: string[];
}

/** The peer an address belongs to: its host (keys gen names them node<k>:<port>). */
const hostOf = (address: string) => address.replace(/:\d+$/, '');

export interface ProbeVerdict {
  nodes: ProbeNodeVerdict[];
  all: boolean;
  /** One line, whatever N: how many nodes reached every peer. */
  summary: string;
  /** The failed nodes by problem, the largest group first. */
  failures: NameGroup[];
  /** The peers some node did not reach, each with the nodes that did not reach it, the most often missed first. */
  unreachedPeers: NameGroup[];
}

/**
 * Each node passes when its report is its own (the pid of its folder) and it reached every distinct
 * address of the committee (reports parsed against `committee`), with a result `ok` and no error.
 */
export function judgeProbes(
  reports: readonly { label: string; pid: number; report: ProbeReport | undefined }[],
  committee: ProbeCommittee,
  n: number,
): ProbeVerdict {
  const nodes = reports.map(({ label, pid, report }): ProbeNodeVerdict => {
    if (!report) return { label, ok: false, reached: 0, problem: 'left no probe report', reasons: ['no probe report'] };
    const reasons = [...report.errors];
    const problems = report.errors.map((e) => `failed: ${e}`);
    if (report.pid !== pid) {
      reasons.unshift(`the report is pid ${report.pid ?? '(none)'}'s, not pid ${pid}'s`);
      problems.unshift("have another node's report");
    }
    if (report.errorCount > report.errors.length)
      reasons.push(`and ${report.errorCount - report.errors.length} more error line(s)`);
    if (report.key && report.key !== 'ok') {
      reasons.push(`key ${report.key}`);
      problems.push(`have a wrong key (${report.key.split(':')[0]})`);
    }
    if (report.unreachedCount) {
      reasons.push(
        `${report.unreachedCount} address(es) not reached: ${report.unreached.slice(0, 3).join(', ')}${report.unreachedCount > 3 ? ', …' : ''}`,
      );
      problems.push('did not reach every address');
    }
    if (report.reached.size < committee.size && report.unreachedCount === 0) {
      const strangers = report.strangers
        ? ` (${report.strangers} line(s) name an address outside the committee, or under another pid than its line's)`
        : '';
      reasons.push(`reached ${report.reached.size} of the committee's ${committee.size} addresses${strangers}`);
      problems.push('did not reach every address');
    }
    if (report.result === undefined) {
      reasons.push('report has no result (probe still running or killed)');
      problems.push('have no result (the probe still ran or was killed)');
    } else if (report.result === 'fail' && reasons.length === 0) {
      reasons.push('probe failed');
      problems.push('failed');
    }
    const ok = report.result === 'ok' && reasons.length === 0;
    return { label, ok, reached: report.reached.size, problem: problems[0], reasons };
  });
  const ok = nodes.filter((x) => x.ok);
  const all = ok.length === n && nodes.length === n;
  const missing = n - nodes.length;
  const summary = all
    ? `probe: all ${n} nodes reached every peer`
    : `probe: ${ok.length} of ${n} nodes reached every peer${missing > 0 ? ` (${missing} node(s) with no report)` : ''}`;
  const failures = groupNames(
    nodes.filter((x) => !x.ok),
    (x) => x.problem ?? 'failed',
    (x) => x.label,
  );
  const unreachedPeers = groupNames(
    reports.flatMap(({ label, report }) =>
      [...new Set(report?.unreached.map((u) => hostOf(u.split(' ')[0]!)))].map((peer) => ({ peer, label })),
    ),
    (x) => x.peer,
    (x) => x.label,
  );
  return { nodes, all, summary, failures, unreachedPeers };
}
