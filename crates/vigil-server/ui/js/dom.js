// Small DOM helpers shared by every page: element builder, formatting, badges, tables, states.

/** Builds an element: h('a.btn', {href: '#/x', onclick: f}, 'text', child...). */
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && k !== 'list' && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces `el`'s children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A time as "2026-12-07 23:40:01" (UTC), or a dash. */
export function time(t) {
  if (!t) return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace('Z', '');
}

/** How long ago `t` was, shortly. */
export function ago(t) {
  const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
  if (!Number.isFinite(s)) return '';
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A risk badge coloured by level (0..10). */
export function riskBadge(risk) {
  const r = Number(risk) || 0;
  const level = r >= 7 ? 'crit' : r >= 4 ? 'high' : r >= 2 ? 'med' : r >= 1 ? 'low' : 'none';
  return h(`span.badge.risk-${level}`, { title: `risk ${r}` }, `risk ${r}`);
}

/** A status pill (open, acknowledged, closed, active, completed, expired...). */
export function pill(text) {
  return h(`span.pill.pill-${String(text || 'none').toLowerCase()}`, text || '—');
}

/** An IP as a link to its host page. */
export function ipLink(ip) {
  if (!ip) return '—';
  return h('a.mono', { href: `#/hosts/${encodeURIComponent(ip)}` }, ip);
}

/** A table with a sticky header: columns [{title, cell(row) -> node|text, cls?}]. */
export function table(columns, rows, { onRow, rowClass, empty } = {}) {
  if (!rows.length) return emptyState(empty || 'Nothing to show.');
  const body = h('tbody');
  rows.forEach((row, i) => {
    const tr = h('tr', { dataset: { index: i } }, columns.map((c) => h(`td${c.cls ? '.' + c.cls : ''}`, c.cell(row))));
    if (rowClass) tr.className = rowClass(row) || '';
    if (onRow) {
      tr.classList.add('clickable');
      tr.addEventListener('click', (e) => {
        if (e.target.closest('a,button,input,label')) return;
        onRow(row, e);
      });
    }
    body.append(tr);
  });
  return h('div.table-wrap', h('table.grid', h('thead', h('tr', columns.map((c) => h(`th${c.cls ? '.' + c.cls : ''}`, c.title)))), body));
}

/** A "nothing here" panel saying what to do. */
export function emptyState(text) {
  return h('div.empty', h('p', text));
}

/** An error panel from an API failure (its problem detail). */
export function errorState(err) {
  const status = err && err.status ? `${err.status} ` : '';
  return h('div.error', { role: 'alert' }, h('strong', `${status}${(err && err.title) || 'Error'}`), h('p', (err && err.message) || String(err)));
}

/** A titled panel. */
export function panel(title, ...children) {
  return h('section.panel', title ? h('h2', title) : null, ...children);
}

/** A page header: title plus optional actions on the right. */
export function pageHead(title, ...actions) {
  return h('div.page-head', h('h1', title), h('div.actions', ...actions));
}

/** Key/value pairs as a definition list (`wide`: two pairs a row). */
export function facts(pairs, wide = false) {
  return h(wide ? 'dl.facts.wide' : 'dl.facts', pairs.filter(Boolean).flatMap(([k, v]) => [h('dt', k), h('dd', v === undefined || v === null || v === '' ? '—' : v)]));
}

/** A toast message at the bottom of the screen. */
export function toast(text, kind = 'ok') {
  const t = h(`div.toast.toast-${kind}`, { role: 'status' }, text);
  document.body.append(t);
  setTimeout(() => t.remove(), 4000);
}

/** Reads a form's named fields into an object, dropping empty ones. */
export function formValues(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) if (String(v).trim() !== '') out[k] = String(v).trim();
  return out;
}

/** A labelled input. */
export function field(label, attrs) {
  return h('label.field', h('span', label), h('input', attrs));
}

/** A labelled select of [value, text] options. */
export function select(label, name, options, value) {
  return h('label.field', h('span', label), h('select', { name }, options.map(([v, t]) => h('option', { value: v, selected: v === value }, t))));
}
