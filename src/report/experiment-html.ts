// The experiment's page (DIR/report.html): what ran, the charts (inline SVG, as the run
// report draws them), and a table of every run with its verdict and a link to its own report.
import { esc, PAGE_STYLE, REPORT_MARK } from './html.js';
import { bytesPerSecond, perSecond } from '../core/report/throughput.js';
import { duration, type RunResult } from '../core/experiment/results.js';

const secs = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(2)} s`);

/** The runs' table: one row each, a failed or host-bound run marked; `link` makes a run's report reachable from the page. */
function runsTable(results: readonly RunResult[], link: (report: string) => string): string {
  const head = [
    'point',
    'repeat',
    'verdict',
    'units/s',
    'transactions/s',
    'payload',
    'latency p50 / p90 / p99',
    'LevelLimit at (median)',
    'start skew',
    "host's CPUs busy",
    'took',
    'report',
  ];
  const rows = results.map((r) => {
    const cells = [
      esc(r.label),
      String(r.repeat),
      esc(`${r.verdict} (exit ${r.exitCode})${r.exitCode === 0 ? '' : `: ${r.message}`}`),
      r.unitsPerSecond === undefined ? '–' : r.unitsPerSecond.toFixed(1),
      r.transactionsPerSecond === undefined ? '–' : `${perSecond(r.transactionsPerSecond)} (Txpu ${r.txpu})`,
      r.payloadBytesPerSecond === undefined ? '–' : bytesPerSecond(r.payloadBytesPerSecond),
      r.latencySeconds
        ? [r.latencySeconds.p50, r.latencySeconds.p90, r.latencySeconds.p99].map((x) => x.toFixed(2)).join(' / ') + ' s'
        : '–',
      secs(r.levelLimitSeconds),
      secs(r.startSkewSeconds),
      r.hostBusy === undefined
        ? 'not recorded'
        : `${r.hostBound ? 'HOST-BOUND: ' : ''}${Math.round(r.hostBusy * 100)}% of ${r.hostCpus} CPUs`,
      duration(r.wallSeconds),
      r.report ? `<a href="${esc(link(r.report))}">report</a>` : '–',
    ];
    const marked = r.exitCode !== 0 || r.hostBound;
    return `<tr${marked ? ' class="marked"' : ''}>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  return `<table class="runs"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

export function experimentPage(
  title: string,
  results: readonly RunResult[],
  charts: readonly { title: string; svg: string }[],
  link: (report: string) => string,
): string {
  const finished = results.filter((r) => r.status === 'finished');
  const failed = finished.filter((r) => r.exitCode !== 0);
  const bound = finished.filter((r) => r.hostBound);
  const unfinished = results.length - finished.length;
  const facts = [
    `${finished.length} run(s) finished${failed.length ? `, ${failed.length} without consensus (${[...new Set(failed.map((r) => r.verdict))].join(', ')})` : ''}${unfinished ? `; ${unfinished} interrupted, to run again` : ''}.`,
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>${REPORT_MARK}
${PAGE_STYLE}</head><body>
<h1>${esc(title)}</h1>
<ul class="facts">${facts.map((f) => `<li>${esc(f)}</li>`).join('')}${
    bound.length
      ? `<li class="marked">${bound.length} run(s) HOST-BOUND: their nodes kept at least 90% of a host's CPUs busy, so their figures measure this machine as much as gomel (a cross in the charts; ${esc([...new Set(bound.map((r) => r.label))].join('; '))}).</li>`
      : ''
  }</ul>
<h2>Charts</h2>
<p>Each point of the grid at the median of its repeats, with a bar over their range. Transactions per second are units ordered per second × Txpu (gomel's generator puts Txpu transactions of 100 bytes in each unit: consensus-go e8d0088, pkg/process/tx/generate/service.go); latency is from a node's unit being created to that node ordering it.</p>
<div class="charts">${charts.map((c) => `<figure data-chart="${esc(c.title)}">${c.svg}</figure>`).join('\n')}</div>
<h2>Runs</h2>
${runsTable(results, link)}
<p>Written by gomelctl experiment. Every run's figures, and each knob of its point, are also in results.csv and results.json beside this page.</p>
</body></html>
`;
}
