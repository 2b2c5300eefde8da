// Charts to SVG at report time (Vega-Lite compiled to Vega, rendered headless),
// so the report is one file that opens offline: no script, no CDN.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ChartSpec } from '../core/logs/report-charts.js';

export async function renderSvg(chart: ChartSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(chart.spec as unknown as TopLevelSpec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
