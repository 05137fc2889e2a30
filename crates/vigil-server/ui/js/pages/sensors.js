// Sensors: every sensor's rate, totals, gaps, clock skew, certificate expiry and silence.

import { get } from '../api.js';
import { h, fill, pageHead, errorState, table, time, ago, pill } from '../dom.js';

/** The sensor table's columns (shared with the dashboard). */
export function sensorColumns() {
  return [
    { title: 'Sensor', cell: (s) => h('strong', s.name) },
    { title: 'State', cell: (s) => pill(s.silent ? 'silent' : 'sending') },
    { title: 'Last seen', cell: (s) => h('span', { title: time(s.last_seen) }, s.last_seen ? ago(s.last_seen) : '—') },
    { title: 'Events/s', cls: 'num', cell: (s) => (Number(s.events_per_second) || 0).toFixed(1) },
    { title: 'Events', cls: 'num', cell: (s) => String(s.events_total ?? 0) },
    { title: 'Gaps', cls: 'num', cell: (s) => String(s.sequence_gaps ?? 0) },
    { title: 'Clock skew', cls: 'num', cell: (s) => (s.clock_skew_secs == null ? '—' : `${s.clock_skew_secs} s`) },
    { title: 'Transport', cell: (s) => s.transport || '—' },
    { title: 'Certificate expires', cell: (s) => time(s.certificate_expires) },
  ];
}

/** Renders the sensor list. */
export async function render(main) {
  const body = h('div');
  fill(main, pageHead('Sensors'), body);
  try {
    const d = await get('sensors', { limit: 500 });
    fill(body, table(sensorColumns(), d.items, { empty: 'No sensor has sent events yet: point an agent (port 40001) or an edge (the bus) at this core.', rowClass: (s) => (s.silent ? 'row-warn' : '') }));
  } catch (err) {
    fill(body, errorState(err));
  }
}
