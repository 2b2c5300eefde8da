// The probe payload's reports (templates/probe/run.sh writes /extract/probe.txt).
interface ProbeReport {
  pid: number | undefined;
  result: 'ok' | 'fail' | undefined;
  key: string | undefined;
  reached: number;
  unreached: string[];
  errors: string[];
}

export function parseProbeReport(text: string): ProbeReport {
  const report: ProbeReport = {
    pid: undefined,
    result: undefined,
    key: undefined,
    reached: 0,
    unreached: [],
    errors: [],
  };
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

interface ProbeNodeVerdict {
  label: string;
  ok: boolean;
  reached: number;
  reasons: string[];
}

export function judgeProbes(
  reports: readonly { label: string; report: ProbeReport | undefined }[],
  n: number,
): { nodes: ProbeNodeVerdict[]; all: boolean; summary: string } {
  const nodes = reports.map(({ label, report }): ProbeNodeVerdict => {
    if (!report) return { label, ok: false, reached: 0, reasons: ['no probe report'] };
    const reasons = [...report.errors];
    if (report.key && report.key !== 'ok') reasons.push(`key ${report.key}`);
    if (report.unreached.length)
      reasons.push(
        `${report.unreached.length} address(es) not reached: ${report.unreached.slice(0, 3).join(', ')}${report.unreached.length > 3 ? ', …' : ''}`,
      );
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
