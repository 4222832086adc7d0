// Charts for the admin dashboard, drawn with uPlot (vendor/uplot, MIT). A chart follows the
// width of its container and redraws in the theme's colours when the theme changes.

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { cssColor, h } from './dom.js';

let cssLoaded = false;
function loadCss() {
  if (cssLoaded) return;
  cssLoaded = true;
  document.head.append(h('link', { rel: 'stylesheet', href: 'vendor/uplot/uPlot.min.css' }));
}

/** withAlpha turns "rgb(r, g, b)" into "rgba(r, g, b, a)". */
function withAlpha(rgb, a) {
  const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(rgb);
  return m ? `rgba(${m[1]}, ${m[2]}, ${m[3]}, ${a})` : rgb;
}

/**
 * dayChart draws per-day series into el and returns {destroy()}.
 * @param {HTMLElement} el
 * @param {{days: number[] (unix seconds, UTC midnight), series: Array<{label: string,
 *   color: string (CSS colour), values: (number|null)[], bars?: boolean, spanGaps?: boolean}>,
 *   unit?: string, integer?: boolean, height?: number, label: string}} spec
 */
export function dayChart(el, spec) {
  loadCss();
  let plot = null;
  const build = () => {
    plot?.destroy();
    const text = cssColor('var(--text)');
    const grid = cssColor('var(--border)');
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const fmt = (v) => (v == null ? '—' : `${Math.round(v)}${spec.unit ? ` ${spec.unit}` : ''}`);
    plot = new uPlot(
      {
        width: Math.max(240, el.clientWidth),
        height: spec.height ?? 260,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        // Half a day of room on each side, so that the first and last bars are whole.
        scales: { x: { time: true, range: (u, min, max) => [min - 43200, max + 43200] }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] } },
        axes: [
          { ...axis, values: (u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' })) },
          {
            ...axis,
            size: 64,
            // Counts have whole ticks only.
            incrs: spec.integer ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] : undefined,
            values: (u, ticks) => ticks.map((t) => (spec.unit ? `${t} ${spec.unit}` : String(t))),
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
