// Admin · Metrics: chat turns per day and how they were settled (answered: paid; interrupted:
// cut after the learner heard the first sentence, paid; refunded: stopped before that, or
// failed) and the first-audio latency (p50 and p95: from the end of the learner's speech to the
// first reply audio) from GET /api/admin/metrics/turns; conversation reviews written per day
// and the analysis uses they spent.

import { dayChart } from '../charts.js';
import { h, replace } from '../dom.js';
import { formatLatency } from '../format.js';
import { adminHeader, num, table } from './admin.js';

const RANGES = [7, 30, 90];
const DAY = 86400;

export async function adminMetricsPage({ root, api, signal }) {
  let days = 30;
  const charts = [];
  const body = h('div', { id: 'admin-metrics', 'aria-live': 'polite' });
  const range = h('select', { id: 'metrics-days' }, RANGES.map((d) => h('option', { value: d, selected: d === days }, `Last ${d} days`)));
  replace(
    root,
    adminHeader('metrics'),
    h('div', { class: 'row', style: { marginBottom: '1rem' } }, h('label', { htmlFor: 'metrics-days' }, 'Period'), h('span', { style: { width: '14rem' } }, range)),
    body,
  );

  const clearCharts = () => {
    for (const c of charts.splice(0)) c.destroy();
  };

  async function load() {
    const rows = await api.get(`/admin/metrics/turns?days=${days}`, { signal });
    clearCharts();
    const sum = (f) => rows.reduce((n, r) => n + (r[f] ?? 0), 0);
    const totals = { turns: sum('turns'), answered: sum('answered'), interrupted: sum('interrupted'), refunded: sum('refunded'), failed: sum('failed'), reviews: sum('reviews'), analysisUses: sum('analysisUses') };
    const p50s = rows.map((r) => r.firstAudioP50).filter((v) => v != null);
    const latest = rows.at(-1);
    const stats = h(
      'div',
      { class: 'stats', id: 'metrics-totals' },
      [
        ['Turns', totals.turns],
        ['Answered', totals.answered],
        ['Interrupted', totals.interrupted],
        ['Refunded', totals.refunded],
        ['Failed', totals.failed],
        ['Reviews', totals.reviews],
        ['Analysis uses', totals.analysisUses],
        ['Latest p50', latest ? formatLatency(latest.firstAudioP50) : '—'],
        ['Latest p95', latest ? formatLatency(latest.firstAudioP95) : '—'],
        ['Best day p50', p50s.length ? formatLatency(Math.min(...p50s)) : '—'],
      ].map(([label, value]) => h('div', { class: 'stat', dataset: { stat: label.toLowerCase().replace(/\s+/g, '-') } }, h('span', { class: 'value' }, String(value)), h('span', { class: 'label' }, label))),
    );
    if (rows.length === 0) {
      replace(body, stats, h('p', { class: 'muted', id: 'metrics-empty' }, `No conversation turns or reviews in the last ${days} days.`));
      return;
    }
    // Every day of the period, so that quiet days show as gaps.
    const today = Math.floor(Date.now() / 1000 / DAY) * DAY;
    const axis = Array.from({ length: days }, (_, i) => today - (days - 1 - i) * DAY);
    const byDay = new Map(rows.map((r) => [Math.floor(Date.parse(r.day) / 1000 / DAY) * DAY, r]));
    const col = (f, zero) => axis.map((d) => (byDay.has(d) ? f(byDay.get(d)) : zero));
    const turnsEl = h('div', { class: 'chart', id: 'chart-turns' });
    const latencyEl = h('div', { class: 'chart', id: 'chart-latency' });
    const reviewsEl = h('div', { class: 'chart', id: 'chart-reviews' });
    replace(
      body,
      stats,
      h(
        'section',
        { class: 'card section', 'aria-labelledby': 'turns-h' },
        h('h2', { id: 'turns-h' }, 'Chat turns per day'),
        h('p', { class: 'chart-legend-note' }, 'Answered: the learner heard the answer (paid). Interrupted: cut after its first sentence was heard (paid). Refunded: stopped before that, or the tutor failed (the chat use was given back).'),
        turnsEl,
      ),
      h(
        'section',
        { class: 'card section', 'aria-labelledby': 'latency-h' },
        h('h2', { id: 'latency-h' }, 'Time to first audio'),
        h('p', { class: 'chart-legend-note' }, 'From the end of the learner’s speech to the first audio of the reply: the median (p50) and the slowest 5 % (p95) of each day.'),
        latencyEl,
      ),
      h(
        'section',
        { class: 'card section', 'aria-labelledby': 'reviews-h' },
        h('h2', { id: 'reviews-h' }, 'Reviews per day'),
        h('p', { class: 'chart-legend-note' }, 'Conversation reviews written each day, and the analysis uses paid for them. A review that could not be written is refunded and counts in neither.'),
        reviewsEl,
      ),
      h(
        'section',
        { class: 'section', 'aria-labelledby': 'table-h' },
        h('h2', { id: 'table-h' }, 'By day'),
        table(
          'Turns, reviews and first-audio latency by day',
          ['Day (UTC)', { label: 'Turns', class: 'num' }, { label: 'Answered', class: 'num' }, { label: 'Interrupted', class: 'num' }, { label: 'Refunded', class: 'num' }, { label: 'Failed', class: 'num' }, { label: 'Reviews', class: 'num' }, { label: 'Analysis uses', class: 'num' }, { label: 'p50', class: 'num' }, { label: 'p95', class: 'num' }, { label: 'Avg STT', class: 'num' }, { label: 'Avg 1st token', class: 'num' }, { label: 'Avg TTS 1st byte', class: 'num' }],
          [...rows].reverse().map((r) => [
            new Date(r.day).toLocaleDateString(undefined, { dateStyle: 'medium', timeZone: 'UTC' }),
            num(r.turns),
            num(r.answered ?? 0),
            num(r.interrupted ?? 0),
            num(r.refunded ?? 0),
            num(r.failed),
            num(r.reviews ?? 0),
            num(r.analysisUses ?? 0),
            num(formatLatency(r.firstAudioP50)),
            num(formatLatency(r.firstAudioP95)),
            num(formatLatency(r.avgSttMs)),
            num(formatLatency(r.avgChatFirstTokenMs)),
            num(formatLatency(r.avgTtsFirstByteMs)),
          ]),
          { compact: true },
        ),
      ),
    );
    charts.push(
      dayChart(turnsEl, {
        label: 'Bar chart of chat turns per day',
        days: axis,
        integer: true,
        series: [
          // Days without turns, interruptions or refunds draw nothing rather than a line along zero.
          { label: 'Turns', color: 'var(--chart-1)', values: col((r) => r.turns || null, null), bars: true },
          { label: 'Answered', color: 'var(--chart-4)', values: col((r) => r.answered || null, null), spanGaps: false },
          { label: 'Interrupted', color: 'var(--chart-2)', values: col((r) => r.interrupted || null, null), spanGaps: false },
          { label: 'Refunded', color: 'var(--chart-3)', values: col((r) => r.refunded || null, null), spanGaps: false },
        ],
      }),
      dayChart(latencyEl, {
        label: 'Line chart of first-audio latency p50 and p95 per day, in milliseconds',
        days: axis,
        // Seconds with one decimal (milliseconds under a second): "2.7 s", "850 ms".
        format: (v) => (v >= 1000 ? `${(v / 1000).toFixed(v % 1000 === 0 ? 0 : 1)} s` : `${Math.round(v)} ms`),
        series: [
          { label: 'p50', color: 'var(--chart-1)', values: col((r) => r.firstAudioP50, null) },
          { label: 'p95', color: 'var(--chart-2)', values: col((r) => r.firstAudioP95, null) },
        ],
      }),
      dayChart(reviewsEl, {
        label: 'Bar chart of conversation reviews per day',
        days: axis,
        integer: true,
        series: [
          { label: 'Reviews', color: 'var(--chart-1)', values: col((r) => r.reviews || null, null), bars: true },
          { label: 'Analysis uses', color: 'var(--chart-4)', values: col((r) => r.analysisUses || null, null), spanGaps: false },
        ],
      }),
    );
  }

  range.addEventListener('change', () => {
    days = Number(range.value);
    load().catch((err) => {
      if (err.name !== 'AbortError') replace(body, h('p', { class: 'notice notice-error', role: 'alert' }, err.message));
    });
  });
  await load();
  return clearCharts;
}
