// Charts for the admin dashboard and the learner's progress, drawn with uPlot (vendor/uplot,
// MIT). A chart follows the width of its container and redraws in the theme's colours when the
// theme changes.

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { cssColor, h } from './dom.js';

let cssLoaded = false;
function loadCss() {
  if (cssLoaded) return;
  cssLoaded = true;
  document.head.append(h('link', { rel: 'stylesheet', href: 'vendor/uplot/uPlot.min.css' }));
}

// uPlot's axis font: tick labels are measured with it, so that the y axis is as wide as its
// longest label (a fixed width cut the first digit of "2653 ms").
const AXIS_FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif';
let measurer = null;
function textWidth(text) {
  measurer ??= document.createElement('canvas').getContext('2d');
  measurer.font = AXIS_FONT;
  return measurer.measureText(text).width;
}

/** axisSize is a y axis's width for its tick labels: the longest, the tick and a gap. */
function axisSize(u, values) {
  if (!values?.length) return 40;
  return Math.ceil(Math.max(...values.map((v) => textWidth(String(v))))) + 22;
}

const DAY = 86400;

/** withAlpha turns "rgb(r, g, b)" into "rgba(r, g, b, a)". */
function withAlpha(rgb, a) {
  const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(rgb);
  return m ? `rgba(${m[1]}, ${m[2]}, ${m[3]}, ${a})` : rgb;
}

/**
 * dayChart draws per-day series into el and returns {destroy()}. The x axis has one tick per
 * day (or per 2, 7, 14 days as the chart narrows) at UTC midnight, where the day's bar and
 * point are, so that no date is written twice or off its bar.
 * @param {HTMLElement} el
 * @param {{days: number[] (unix seconds, UTC midnight), series: Array<{label: string,
 *   color: string (CSS colour), values: (number|null)[], bars?: boolean, spanGaps?: boolean}>,
 *   format?: (v: number) => string (tick labels and values), integer?: boolean,
 *   height?: number, label: string}} spec
 */
export function dayChart(el, spec) {
  loadCss();
  let plot = null;
  const build = () => {
    plot?.destroy();
    const text = cssColor('var(--text)');
    const grid = cssColor('var(--border)');
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const fmt = (v) => (v == null ? '—' : spec.format ? spec.format(v) : String(Math.round(v)));
    plot = new uPlot(
      {
        width: Math.max(240, el.clientWidth),
        height: spec.height ?? 260,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        // Half a day of room on each side, so that the first and last bars are whole.
        scales: { x: { time: true, range: (u, min, max) => [min - 43200, max + 43200] }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] } },
        axes: [
          {
            ...axis,
            space: 56,
            incrs: [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY],
            values: (u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' })),
          },
          {
            ...axis,
            size: axisSize,
            // Counts have whole ticks only.
            incrs: spec.integer ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] : undefined,
            values: (u, ticks) => ticks.map((t) => (spec.format ? spec.format(t) : String(t))),
          },
        ],
        series: [
          { label: 'Day', value: (u, ts) => (ts == null ? '—' : new Date(ts * 1000).toLocaleDateString(undefined, { dateStyle: 'medium', timeZone: 'UTC' })) },
          ...spec.series.map((s) => {
            const color = cssColor(s.color);
            return s.bars
              ? { label: s.label, stroke: color, fill: withAlpha(color, 0.55), width: 1, paths: uPlot.paths.bars({ size: [0.7, 48] }), points: { show: false }, value: (u, v) => fmt(v) }
              : { label: s.label, stroke: color, width: 2, spanGaps: s.spanGaps ?? true, points: { show: true, size: 7, fill: color }, value: (u, v) => fmt(v) };
          }),
        ],
        legend: { live: true },
      },
      [spec.days, ...spec.series.map((s) => s.values)],
      el,
    );
    plot.root.setAttribute('role', 'img');
    plot.root.setAttribute('aria-label', spec.label);
    el.uplot = plot; // for the browser tests, which read its axes
  };
  build();
  const resize = new ResizeObserver(() => {
    if (plot && Math.abs(plot.width - el.clientWidth) > 4) plot.setSize({ width: Math.max(240, el.clientWidth), height: spec.height ?? 260 });
  });
  resize.observe(el);
  window.addEventListener('themechange', build);
  return {
    destroy() {
      resize.disconnect();
      window.removeEventListener('themechange', build);
      plot?.destroy();
    },
  };
}

/**
 * pointsChart draws series over points in time (not whole days: a learner's reviews) into el
 * and returns {destroy()}.
 * @param {HTMLElement} el
 * @param {{xs: number[] (unix seconds), series: Array<{label: string, color: string (CSS colour),
 *   values: (number|null)[], value?: (v: number) => string}>, y?: {min?: number, max?: number,
 *   unit?: string, values?: (v: number) => string, incrs?: number[], size?: number (px for the
 *   tick labels), space?: number (px between ticks)}, height?: number, label: string}} spec
 */
export function pointsChart(el, spec) {
  loadCss();
  let plot = null;
  const y = spec.y ?? {};
  const height = spec.height ?? 200;
  const build = () => {
    plot?.destroy();
    const text = cssColor('var(--text)');
    const grid = cssColor('var(--border)');
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const lo = Math.min(...spec.xs);
    const hi = Math.max(...spec.xs);
    const pad = Math.max(3600, (hi - lo) * 0.06);
    const tick = (v) => (y.values ? y.values(v) : `${v}${y.unit ? ` ${y.unit}` : ''}`);
    // Reviews of one or two days are told apart by the time of day, others by their date.
    const short = hi - lo + 2 * pad < 2 * 86400;
    const xTick = (t) => new Date(t * 1000).toLocaleString(undefined, short ? { hour: '2-digit', minute: '2-digit' } : { month: 'short', day: 'numeric' });
    plot = new uPlot(
      {
        width: Math.max(240, el.clientWidth),
        height,
        scales: {
          x: { time: true, range: () => [lo - pad, hi + pad] },
          y: { range: (u, min, max) => [y.min ?? 0, y.max ?? Math.max(1, (max ?? 1) * 1.2)] },
        },
        axes: [
          { ...axis, space: 90, values: (u, ticks) => ticks.map(xTick) },
          { ...axis, size: y.size ?? axisSize, space: y.space ?? 24, incrs: y.incrs, values: (u, ticks) => ticks.map(tick) },
        ],
        series: [
          { label: 'Review', value: (u, ts) => (ts == null ? '—' : new Date(ts * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })) },
          ...spec.series.map((s) => {
            const color = cssColor(s.color);
            return { label: s.label, stroke: color, width: 2, spanGaps: true, points: { show: true, size: 8, fill: color }, value: (u, v) => (v == null ? '—' : s.value ? s.value(v) : String(v)) };
          }),
        ],
        // The chart is labelled for screen readers and the page shows the figures as a table.
        legend: { show: false },
      },
      [spec.xs, ...spec.series.map((s) => s.values)],
      el,
    );
    plot.root.setAttribute('role', 'img');
    plot.root.setAttribute('aria-label', spec.label);
  };
  build();
  const resize = new ResizeObserver(() => {
    if (plot && Math.abs(plot.width - el.clientWidth) > 4) plot.setSize({ width: Math.max(240, el.clientWidth), height });
  });
  resize.observe(el);
  window.addEventListener('themechange', build);
  return {
    destroy() {
      resize.disconnect();
      window.removeEventListener('themechange', build);
      plot?.destroy();
    },
  };
}
