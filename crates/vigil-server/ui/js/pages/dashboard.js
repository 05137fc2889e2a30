// Dashboard: events per second and alarms over time, top talkers and directives, sensor health.

import { get } from '../api.js';
import { h, fill, panel, pageHead, errorState, emptyState, table, time, ipLink } from '../dom.js';
import { chart } from '../chart.js';
import { sensorColumns } from './sensors.js';

function top(rows, keyCell, empty) {
  if (!rows || !rows.length) return emptyState(empty);
  const max = Math.max(...rows.map((r) => r.count));
  return h(
    'ol.toplist',
    rows.map((r) => {
      const bar = h('span.topbar');
      bar.style.width = `${Math.round((r.count / max) * 100)}%`;
      return h('li', h('span.topkey', keyCell(r)), h('span.topcount', String(r.count)), bar);
    }),
  );
}

/** Renders the dashboard; refreshes every 30 s while shown. */
export function render(main) {
  const body = h('div.dash');
  fill(main, pageHead('Dashboard', h('span.muted', { id: 'dash-updated' })), body);
  const load = async () => {
    try {
      const d = await get('dashboard');
      fill(
        body,
        h(
          'div.grid2',
          panel('Events per second (last hour)', chart(d.events_per_second || [], { kind: 'line', unit: ' ev/s' })),
          panel('Alarms per hour (last 24 h)', chart(d.alarms_over_time || [], { kind: 'bar', hours: true, unit: ' alarms' })),
        ),
        h(
          'div.grid3',
          panel('Top sources', top(d.top_sources, (r) => ipLink(r.key), 'No alarms with a source yet.')),
          panel('Top destinations', top(d.top_destinations, (r) => ipLink(r.key), 'No alarms with a destination yet.')),
          panel('Top directives', top(d.top_directives, (r) => h('a', { href: `#/directives/${r.key}` }, r.name || r.key), 'No directive has raised an alarm yet.')),
        ),
        panel('Sensor health', table(sensorColumns(), d.sensors || [], { empty: 'No sensor has sent events yet: point an agent or edge at this core.', rowClass: (s) => (s.silent ? 'row-warn' : '') })),
      );
      fill(document.getElementById('dash-updated') || h('span'), `updated ${time(new Date().toISOString())}`);
    } catch (err) {
      fill(body, errorState(err));
    }
  };
  load();
  const timer = setInterval(load, 30000);
  return () => clearInterval(timer);
}
