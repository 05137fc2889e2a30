// Events: search stored events (time range, addresses, plugin, sensor, text) with their raw
// logs, and one event with every field.

import { get } from '../api.js';
import { h, fill, pageHead, errorState, table, time, ipLink, facts, formValues, field, select } from '../dom.js';

let query = {};

/** The search form and its results, with "more" paging. */
export function render(main) {
  const results = h('div', { id: 'event-results' });
  const preset = h('select', { name: 'range', 'aria-label': 'time range' }, [['', 'custom'], ['900', 'last 15 min'], ['3600', 'last hour'], ['86400', 'last 24 h'], ['604800', 'last 7 days']].map(([v, t]) => h('option', { value: v }, t)));
  preset.addEventListener('change', () => {
    if (!preset.value) return;
    const now = Math.floor(Date.now() / 1000);
    form.elements.from.value = String(now - Number(preset.value));
    form.elements.to.value = '';
  });
  const form = h(
    'form.filters',
    { id: 'event-search' },
    h('label.field', h('span', 'Range'), preset),
    field('From', { name: 'from', value: query.from || '', placeholder: 'RFC 3339 or epoch s' }),
    field('To', { name: 'to', value: query.to || '', placeholder: 'RFC 3339 or epoch s' }),
    field('Source IP', { name: 'src_ip', value: query.src_ip || '' }),
    field('Destination IP', { name: 'dst_ip', value: query.dst_ip || '' }),
    field('Plugin id', { name: 'plugin_id', value: query.plugin_id || '', inputmode: 'numeric' }),
    field('Plugin sid', { name: 'plugin_sid', value: query.plugin_sid || '', inputmode: 'numeric' }),
    field('Sensor', { name: 'sensor', value: query.sensor || '' }),
    field('Text in raw log', { name: 'text', value: query.text || '' }),
    select('Order', 'order', [['newest', 'newest first'], ['oldest', 'oldest first']], query.order || 'newest'),
    h('div.filter-buttons', h('button.btn.primary', { type: 'submit' }, 'Search')),
  );
  const columns = [
    { title: 'Time', cell: (e) => h('a', { href: `#/events/${e.id}` }, time(e.time)) },
    { title: 'Plugin', cls: 'mono', cell: (e) => `${e.plugin_id}:${e.plugin_sid}` },
    { title: 'Source', cell: (e) => ipLink(e.src_ip) },
    { title: 'Destination', cell: (e) => ipLink(e.dst_ip) },
    { title: 'Sensor', cell: (e) => e.provenance?.sensor || '—' },
    { title: 'Raw log', cls: 'rawcell', cell: (e) => h('code.rawlog-inline', e.log || '') },
  ];
  let items = [];
  const search = async (cursor) => {
    try {
      const d = await get('events', { ...query, limit: 100, cursor });
      items = cursor ? items.concat(d.items) : d.items;
      fill(
        results,
        h('p.muted', `${items.length} event(s)${d.next_cursor ? ', more available' : ''}`),
        table(columns, items, { onRow: (e) => { location.hash = `#/events/${e.id}`; }, empty: 'No stored event matches. Widen the time range or clear a field.' }),
        d.next_cursor ? h('button.btn', { type: 'button', onclick: () => search(d.next_cursor) }, 'More') : null,
      );
    } catch (err) {
      fill(results, errorState(err));
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const { range, ...rest } = formValues(form);
    query = rest;
    search();
  });
  fill(main, pageHead('Events'), form, results);
  search();
}

function value(v) {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'object') return h('code', JSON.stringify(v));
  return String(v);
}

/** One event: the raw log first, then every field. */
export async function renderDetail(main, id) {
  try {
    const e = await get(`events/${encodeURIComponent(id)}`);
    const { provenance, log, extra, ...fields } = e;
    fill(
      main,
      pageHead(`Event ${e.plugin_id}:${e.plugin_sid}`),
      h('p', h('a', { href: '#/events' }, '← events')),
      h('section.panel', h('h2', 'Raw log'), h('pre.rawlog', { id: 'event-raw-log' }, log || '(no raw log)')),
      h(
        'div.grid2',
        h('section.panel', h('h2', 'Fields'), facts(Object.entries(fields).map(([k, v]) => [k, k.endsWith('_ip') && v ? ipLink(v) : value(v)]))),
        h(
          'section.panel',
          h('h2', 'Provenance'),
          facts(Object.entries(provenance || {}).map(([k, v]) => [k, k.endsWith('_time') || k === 'received_at' ? time(v) : value(v)])),
          extra ? h('div', h('h2', 'Extra'), facts(Object.entries(extra).map(([k, v]) => [k, value(v)]))) : null,
        ),
      ),
    );
  } catch (err) {
    fill(main, pageHead('Event'), errorState(err), h('p', h('a', { href: '#/events' }, '← events')));
  }
}
