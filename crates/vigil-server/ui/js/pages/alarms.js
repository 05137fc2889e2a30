// Alarms: the live list (sorted by risk then time), filters, SSE updates, keyboard triage and
// bulk actions.

import { get, post } from '../api.js';
import { h, fill, pageHead, errorState, emptyState, time, ago, riskBadge, pill, ipLink, formValues, toast } from '../dom.js';
import { session } from '../main.js';

// The filters survive leaving the page and coming back.
let filters = { status: 'open,acknowledged' };

const FILTERS = [
  ['status', 'Status', 'open,acknowledged,closed'],
  ['correlation', 'Correlation', 'active,completed,expired'],
  ['risk_min', 'Risk ≥', '0-10'],
  ['risk_max', 'Risk ≤', '0-10'],
  ['directive', 'Directive', 'id'],
  ['src', 'Source', 'IP or CIDR'],
  ['dst', 'Destination', 'IP or CIDR'],
  ['sensor', 'Sensor', 'name'],
  ['user', 'User', 'user name'],
  ['q', 'Text', 'in the name'],
];

/** Whether `a` passes the filters the browser can check itself (the server is exact on reload). */
function passes(a) {
  const list = (k) => (filters[k] ? filters[k].split(',').map((s) => s.trim()) : null);
  const status = list('status');
  if (status && !status.includes(a.triage?.status || 'open')) return false;
  const corr = list('correlation');
  if (corr && !corr.includes(a.correlation)) return false;
  if (filters.risk_min && a.risk < Number(filters.risk_min)) return false;
  if (filters.risk_max && a.risk > Number(filters.risk_max)) return false;
  if (filters.directive && String(a.directive_id) !== filters.directive) return false;
  for (const [k, f] of [['src', 'src_ip'], ['dst', 'dst_ip']]) if (filters[k] && !filters[k].includes('/') && a[f] !== filters[k]) return false;
  if (filters.sensor && !(a.sensors || []).includes(filters.sensor)) return false;
  if (filters.user && !(a.usernames || []).includes(filters.user)) return false;
  if (filters.q && !String(a.name).toLowerCase().includes(filters.q.toLowerCase())) return false;
  return true;
}

function byRisk(a, b) {
  return b.risk - a.risk || String(b.last_seen).localeCompare(String(a.last_seen));
}

/** Renders the alarm list; returns the function that stops its stream and key handler. */
export function render(main) {
  const canTriage = session.can('analyst');
  let alarms = [];
  let total = 0;
  let cursor = 0;
  const selected = new Set();
  const fresh = new Set();
  const count = h('span.muted', { id: 'alarm-count' });
  const live = h('span.live', { id: 'live', title: 'live updates' }, 'connecting…');
  const list = h('div.alarm-list', { id: 'alarm-list' });

  const form = h(
    'form.filters',
    { id: 'alarm-filters' },
    FILTERS.map(([name, label, hint]) => h('label.field.small', h('span', label), h('input', { name, value: filters[name] || '', placeholder: hint }))),
    h('div.filter-buttons', h('button.btn.primary', { type: 'submit' }, 'Apply'), h('button.btn.ghost', { type: 'button', onclick: () => { filters = {}; render(main); } }, 'Clear')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    filters = formValues(form);
    load();
  });

  const bulk = canTriage
    ? h(
        'div.bulk',
        { id: 'bulk' },
        h('span', { id: 'selected-count' }, '0 selected'),
        h('button.btn', { type: 'button', id: 'bulk-ack', onclick: () => bulkAction('acknowledge') }, 'Acknowledge selected'),
        h('button.btn', { type: 'button', id: 'bulk-close', onclick: () => bulkAction('close') }, 'Close selected'),
      )
    : null;

  fill(
    main,
    pageHead('Alarms', count, live),
    form,
    bulk,
    list,
    h('p.hint', 'Keys: j/k or ↓/↑ move · Enter open · x select', canTriage ? ' · a acknowledge · c close' : ''),
  );

  async function load() {
    try {
      const d = await get('alarms', { ...filters, sort: 'risk', limit: 500 });
      alarms = d.items;
      total = d.total ?? d.items.length;
      cursor = Math.min(cursor, Math.max(alarms.length - 1, 0));
      draw();
    } catch (err) {
      fill(list, errorState(err));
    }
  }

  function draw() {
    fill(count, `${total} matching${alarms.length < total ? `, ${alarms.length} shown` : ''}`);
    if (bulk) fill(bulk.querySelector('#selected-count'), `${selected.size} selected`);
    if (!alarms.length) {
      fill(list, emptyState('No alarm matches these filters. Widen them (Clear), or wait: new alarms appear here live.'));
      return;
    }
    const rows = alarms.map((a, i) => {
      const box = canTriage
        ? h('input', { type: 'checkbox', checked: selected.has(a.id), 'aria-label': 'select', onchange: (e) => { toggle(a.id, e.target.checked); } })
        : null;
      const tr = h(
        'tr',
        { dataset: { id: a.id, index: i }, class: 'clickable' },
        canTriage ? h('td.check', box) : null,
        h('td', riskBadge(a.risk)),
        h('td.name', h('a', { href: `#/alarms/${a.id}` }, a.name), a.rule ? h('div.sub', a.rule) : null),
        h('td', pill(a.triage?.status || 'open')),
        h('td', pill(a.correlation)),
        h('td', ipLink(a.src_ip)),
        h('td', ipLink(a.dst_ip)),
        h('td.num.opt', String(a.level ?? '')),
        h('td.num', String(a.event_count ?? '')),
        h('td.opt', (a.sensors || []).join(', ') || '—'),
        h('td', a.assignee || '—'),
        h('td', h('span', { title: time(a.last_seen) }, ago(a.last_seen))),
      );
      if (i === cursor) tr.classList.add('cursor');
      if (fresh.has(a.id)) tr.classList.add('fresh');
      if (selected.has(a.id)) tr.classList.add('selected');
      tr.addEventListener('click', (e) => {
        if (e.target.closest('a,input,button')) return;
        location.hash = `#/alarms/${a.id}`;
      });
      return tr;
    });
    const heads = [canTriage ? '' : null, 'Risk', 'Alarm', 'Triage', 'Correlation', 'Source', 'Destination', 'Level.opt', 'Events', 'Sensors.opt', 'Assignee', 'Last seen'].filter((x) => x !== null);
    const th = (t) => h(t.endsWith('.opt') ? 'th.opt' : 'th', t.replace('.opt', ''));
    fill(list, h('div.table-wrap', h('table.grid.alarms', h('thead', h('tr', heads.map(th))), h('tbody', rows))));
  }

  function toggle(id, on) {
    if (on) selected.add(id);
    else selected.delete(id);
    draw();
  }

  async function triage(a, status) {
    try {
      const updated = await post(`alarms/${a.id}/triage`, { status });
      upsert(updated);
      toast(`${a.name}: ${status}`);
    } catch (err) {
      toast(err.message, 'bad');
    }
  }

  async function bulkAction(action) {
    document.activeElement?.blur();
    if (!selected.size) {
      toast('Select alarms first (x or the checkboxes).', 'bad');
      return;
    }
    try {
      const r = await post('alarms/bulk', { ids: [...selected], action });
      toast(`${r.updated} alarm(s) updated${r.missing?.length ? `, ${r.missing.length} missing` : ''}`);
      selected.clear();
      load();
    } catch (err) {
      toast(err.message, 'bad');
    }
  }

  function upsert(a) {
    const i = alarms.findIndex((x) => x.id === a.id);
    const keep = passes(a);
    if (i >= 0 && keep) alarms[i] = a;
    else if (i >= 0) alarms.splice(i, 1);
    else if (keep) {
      alarms.push(a);
      total += 1;
      fresh.add(a.id);
      setTimeout(() => { fresh.delete(a.id); document.querySelector(`tr[data-id="${a.id}"]`)?.classList.remove('fresh'); }, 4000);
    } else return;
    if (i >= 0 && !keep) total = Math.max(0, total - 1);
    const current = alarms[cursor]?.id;
    alarms.sort(byRisk);
    cursor = Math.max(0, alarms.findIndex((x) => x.id === current));
    draw();
  }

  function onKey(e) {
    if (e.target.closest('input,textarea,select') || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'Enter' && e.target.closest('button,a')) return;
    const a = alarms[cursor];
    const move = (d) => {
      cursor = Math.min(Math.max(cursor + d, 0), Math.max(alarms.length - 1, 0));
      draw();
      list.querySelector('tr.cursor')?.scrollIntoView({ block: 'nearest' });
    };
    switch (e.key) {
      case 'j': case 'ArrowDown': move(1); break;
      case 'k': case 'ArrowUp': move(-1); break;
      case 'Enter': if (a) location.hash = `#/alarms/${a.id}`; break;
      case 'x': if (a && canTriage) toggle(a.id, !selected.has(a.id)); break;
      case 'a': if (a && canTriage) triage(a, 'acknowledged'); break;
      case 'c': if (a && canTriage) triage(a, 'closed'); break;
      default: return;
    }
    e.preventDefault();
  }

  // The stream: every new or revised alarm and every triage change.
  const stream = new EventSource('/api/v1/stream');
  stream.addEventListener('open', () => { fill(live, '● live'); live.className = 'live on'; });
  stream.addEventListener('error', () => {
    fill(live, stream.readyState === EventSource.CLOSED ? '○ live updates unavailable (reload)' : '○ reconnecting');
    live.className = 'live off';
  });
  stream.addEventListener('alarm', (e) => {
    try {
      upsert(JSON.parse(e.data));
    } catch {
      // A malformed message is skipped; the next reload is exact.
    }
  });
  document.addEventListener('keydown', onKey);
  load();
  return () => {
    stream.close();
    document.removeEventListener('keydown', onKey);
  };
}
