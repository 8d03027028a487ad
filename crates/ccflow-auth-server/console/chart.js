// The journal's chart: requests per second by outcome over the last window, as stacked bars
// in an SVG built here (no library). Each bar carries a <title> for pointer users; the SVG's
// aria-label sums the window for everyone else.

import { svg, outcome } from './dom.js';

const WIDTH = 1000;
const HEIGHT = 180;
const LEFT = 34;
const BOTTOM = 20;
const TOP = 8;
const OUTCOMES = ['ok', 'refused', 'failed'];

/** Counts per second: buckets[i] holds the second `now - windowSecs + i`. */
export function bucketize(entries, now, windowSecs) {
  const start = Math.floor(now) - windowSecs + 1;
  const buckets = Array.from({ length: windowSecs }, () => ({ ok: 0, refused: 0, failed: 0 }));
  for (const entry of entries) {
    const index = Math.floor(entry.received_at) - start;
    if (index >= 0 && index < windowSecs) buckets[index][outcome(entry.status)] += 1;
  }
  return buckets;
}

/** Replaces the container's chart with one for `entries` around the server's `now`. */
export function renderChart(container, entries, now, windowSecs) {
  const buckets = bucketize(entries, now, windowSecs);
  const highest = Math.max(1, ...buckets.map((b) => b.ok + b.refused + b.failed));
  const scaleMax = niceCeiling(highest);
  const plotWidth = WIDTH - LEFT - 4;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const slot = plotWidth / windowSecs;
  const totals = { ok: 0, refused: 0, failed: 0 };

  const bars = [];
  buckets.forEach((bucket, index) => {
    let y = TOP + plotHeight;
    const secondsAgo = windowSecs - 1 - index;
    for (const kind of OUTCOMES) {
      const count = bucket[kind];
      totals[kind] += count;
      if (!count) continue;
      const height = (count / scaleMax) * plotHeight;
      y -= height;
      bars.push(svg('rect', {
        class: kind,
        x: (LEFT + index * slot + slot * 0.1).toFixed(2),
        y: y.toFixed(2),
        width: Math.max(1, slot * 0.8).toFixed(2),
        height: height.toFixed(2),
        'data-outcome': kind,
      }, svg('title', {}, `${count} ${kind}, ${secondsAgo} s ago`)));
    }
  });

  const grid = [];
  for (const value of [0, scaleMax / 2, scaleMax]) {
    const y = TOP + plotHeight - (value / scaleMax) * plotHeight;
    grid.push(svg('line', { class: 'axis', x1: LEFT, x2: WIDTH - 4, y1: y, y2: y }));
    grid.push(svg('text', { x: LEFT - 4, y: y + 4, 'text-anchor': 'end' }, formatCount(value)));
  }
  const labels = [windowSecs, Math.round(windowSecs / 2), 0].map((ago) => {
    const x = LEFT + (windowSecs - ago - 0.5) * slot;
    const anchor = ago === windowSecs ? 'start' : ago === 0 ? 'end' : 'middle';
    return svg('text', { x, y: HEIGHT - 4, 'text-anchor': anchor }, ago === 0 ? 'now' : `−${ago} s`);
  });

  const summary = `Requests per second over the last ${windowSecs} seconds: ` +
    `${totals.ok} answered, ${totals.refused} refused, ${totals.failed} failed; ` +
    `at most ${highest} in one second.`;
  container.replaceChildren(svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img',
    'aria-label': summary,
  }, ...grid, ...labels, ...bars));
  return totals;
}

function niceCeiling(value) {
  for (const step of [1, 2, 4, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000]) {
    if (value <= step) return step;
  }
  return Math.ceil(value / 1000) * 1000;
}

function formatCount(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
