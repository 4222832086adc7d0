// Shared parts of the admin dashboard (role admin only; app.js sends everyone else home, and
// the server refuses the admin routes with 403 anyway).

import { h } from '../dom.js';

const TABS = [
  ['plans', '#/admin/plans', 'Plans'],
  ['users', '#/admin/users', 'Users'],
  ['companies', '#/admin/companies', 'Companies'],
  ['metrics', '#/admin/metrics', 'Metrics'],
];

/** adminHeader is the dashboard's heading and tabs, with `active` marked as the current page. */
export function adminHeader(active, lead) {
  return [
    h('div', { class: 'page-header' }, h('h1', {}, 'Admin dashboard'), lead ? h('p', {}, lead) : null),
    h('nav', { class: 'tabs', 'aria-label': 'Admin sections' }, TABS.map(([key, href, label]) => h('a', { href, 'aria-current': key === active ? 'page' : null }, label))),
  ];
}

/**
 * table builds a table from column headers and rows of cells (nodes or text). Its box scrolls
 * sideways on narrow screens, so it is a labelled region that takes the focus (keyboard users
 * scroll it with the arrow keys).
 */
export function table(caption, headers, rows, { rowAttrs, id, compact = false } = {}) {
  return h(
    'div',
    { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: '0', id },
    h(
      'table',
      { class: compact ? 'table-compact' : null },
      h('caption', { class: 'sr-only' }, caption),
      h('thead', {}, h('tr', {}, headers.map((c) => (typeof c === 'string' ? h('th', { scope: 'col' }, c) : h('th', { scope: 'col', class: c.class }, c.label))))),
      h('tbody', {}, rows.map((cells, i) => h('tr', rowAttrs?.(i) ?? {}, cells.map((c) => (c?.td ? h('td', c.td, c.value) : h('td', {}, c)))))),
    ),
  );
}

/** num is a right-aligned numeric table cell. */
export function num(value) {
  return { td: { class: 'num' }, value: String(value) };
}
