// The report as a person sees it: opened in headless Chromium (Debian's, driven by
// playwright-core), its charts rendered as quantile bands over the nodes and a latency CDF, with axes with units.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { cli, tempDir, VECTORS } from '../helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

test('the report of a real run renders in Chromium: 5 charts, bands over the nodes, a latency CDF, a level heatmap, axes with units, no console errors', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'report.html');
  const r = await cli(['report', '--logs', path.join(VECTORS, 'logs/swarm-8'), '--out', file]);
  assert.equal(r.code, 0, r.err);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`file://${file}`);
  const charts = page.locator('figure[data-chart] svg');
  assert.equal(await charts.count(), 5);
  for (let i = 0; i < 5; i++) {
    const box = await charts.nth(i).boundingBox();
    assert.ok(box && box.width > 300 && box.height > 200, `chart ${i} has a size on the page`);
  }
  // Quantile bands over the nodes in the level and order charts: a legend of three, whatever N.
  for (const chart of ['Prime level reached over time', 'Units ordered over time']) {
    const figure = page.locator(`figure[data-chart="${chart}"]`);
    assert.deepEqual(await figure.locator('g.role-legend-label text').allTextContents(), [
      'min–max',
      'p10–p90',
      'median',
    ]);
    assert.equal(await figure.locator('g.mark-area path').count(), 2, `${chart}: two bands`);
    assert.equal(await figure.locator('g.mark-line path').count(), 1, `${chart}: the median`);
  }
  // The latency CDF, with p50, p90 and p99 marked.
  const latency = page.locator('figure[data-chart="Ordering latency of own units"]');
  assert.equal(await latency.locator('g.mark-rule.role-mark line').count(), 3);
  assert.match((await latency.locator('g.mark-text text').allTextContents()).join(' '), /p50 .* s p90 .* s p99 .* s/);
  // The heatmap: one row of 60 cells per node with a log (swarm-8: 8 nodes).
  const heatmap = page.locator('figure[data-chart="Prime level per node over time"]');
  assert.equal(await heatmap.locator('g.mark-rect.role-mark path').count(), 8 * 60);
  for (const legend of await page.locator('g.role-legend').all())
    assert.ok((await legend.locator('g.role-legend-label text').count()) <= 12);
  const axisTitles = await page.locator('g.role-axis-title text').allTextContents();
  for (const title of [
    'time since the common start (s)',
    'prime level',
    'units ordered',
    'latency from creation to order (s)',
    'fraction of own units',
    'traffic (MB)',
  ])
    assert.ok(axisTitles.includes(title), `axis "${title}"`);
  assert.match(await page.locator('table.figures').innerText(), /units ordered per second/);
  await page.screenshot({ path: path.join(dir, 'report.png'), fullPage: true });
  assert.deepEqual(errors, []);
});
