// The report as a person sees it: opened in headless Chromium (Debian's, driven by
// playwright-core), its charts rendered with one series per node and axes with units.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { cli, tempDir, VECTORS } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

test('the report of a real run renders in Chromium: 4 charts, one series per node, axes with units, no console errors', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'report.html');
  const r = await cli(['report', '--logs', path.join(VECTORS, 'logs/swarm-8'), '--out', file]);
  assert.equal(r.code, 0, r.err);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`file://${file}`);
  const charts = page.locator('figure[data-chart] svg');
  assert.equal(await charts.count(), 4);
  for (let i = 0; i < 4; i++) {
    const box = await charts.nth(i).boundingBox();
    assert.ok(box && box.width > 300 && box.height > 200, `chart ${i} has a size on the page`);
  }
  // One line per node in the level and order charts, and their legends name the 8 nodes (crashed ones marked).
  const levels = page.locator('figure[data-chart="Prime level reached over time"]');
  assert.equal(await levels.locator('g.mark-line path').count(), 8);
  const legend = (await levels.locator('g.role-legend-label text').allTextContents()).sort();
  assert.deepEqual(legend, ['node1', 'node2 (crashed)', 'node3', 'node4', 'node5', 'node6', 'node7 (crashed)', 'node8 (crashed)']);
  assert.equal(await page.locator('figure[data-chart="Units ordered over time"] g.mark-line path').count(), 8);
  const axisTitles = await page.locator('g.role-axis-title text').allTextContents();
  for (const title of ['time since the common start (s)', 'prime level', 'units ordered', 'latency from creation to order (s)', 'traffic (MB)']) assert.ok(axisTitles.includes(title), `axis "${title}"`);
  assert.match(await page.locator('table.figures').innerText(), /units ordered per second/);
  await page.screenshot({ path: path.join(dir, 'report.png'), fullPage: true });
  assert.deepEqual(errors, []);
});
