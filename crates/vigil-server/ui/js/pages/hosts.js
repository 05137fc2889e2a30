// Hosts: every host with its asset value, compromise and attack levels; one host with its
// level history, inventory and alarms.

import { get } from '../api.js';
import { h, fill, panel, pageHead, errorState, table, riskBadge, time, ago, pill, facts, ipLink } from '../dom.js';
import { chart } from '../chart.js';

/** The host list. */
export async function render(main) {
  const body = h('div');
  fill(main, pageHead('Hosts'), body);
  try {
    const d = await get('hosts', { limit: 500 });
    fill(
      body,
      table(
        [
          { title: 'Address', cell: (x) => ipLink(x.ip) },
          { title: 'Asset', cls: 'num', cell: (x) => String(x.asset ?? '—') },
          { title: 'Compromise', cls: 'num', cell: (x) => String(x.compromise ?? 0) },
          { title: 'Attack', cls: 'num', cell: (x) => String(x.attack ?? 0) },
          { title: 'Alarms', cls: 'num', cell: (x) => String(x.alarms ?? 0) },
        ],
        d.items,
        { onRow: (x) => { location.hash = `#/hosts/${encodeURIComponent(x.ip)}`; }, empty: 'No host has levels or an inventory entry yet: hosts appear once alarms or the inventory name them.' },
      ),
    );
  } catch (err) {
    fill(body, errorState(err));
  }
}

/** One host. */
export async function renderDetail(main, ip) {
  try {
    const d = await get(`hosts/${encodeURIComponent(ip)}`);
    const levels = d.levels || [];
    fill(
      main,
      pageHead(`Host ${d.ip}`),
      h('p', h('a', { href: '#/hosts' }, '← hosts')),
      h(
        'div.grid2',
        panel('Levels', facts([['Asset value', String(d.asset ?? '—')], ['Compromise (C)', String(d.compromise ?? 0)], ['Attack (A)', String(d.attack ?? 0)]]), h('h3', 'Compromise over time'), chart(levels.map((l) => ({ time: l.time, value: l.compromise }))), h('h3', 'Attack over time'), chart(levels.map((l) => ({ time: l.time, value: l.attack })))),
        h(
          'div',
          panel('Inventory', d.inventory ? facts(Object.entries(d.inventory).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)])) : h('p.muted', 'This host is not in the inventory.')),
          panel(
            'Alarms',
            table(
              [
                { title: 'Risk', cell: (a) => riskBadge(a.risk) },
                { title: 'Alarm', cell: (a) => h('a', { href: `#/alarms/${a.id}` }, a.name) },
                { title: 'Triage', cell: (a) => pill(a.triage?.status) },
                { title: 'Source', cell: (a) => ipLink(a.src_ip) },
                { title: 'Destination', cell: (a) => ipLink(a.dst_ip) },
                { title: 'Last seen', cell: (a) => h('span', { title: time(a.last_seen) }, ago(a.last_seen)) },
              ],
              d.alarms || [],
              { empty: 'No alarm names this host.' },
            ),
          ),
        ),
      ),
    );
  } catch (err) {
    fill(main, pageHead(`Host ${ip}`), errorState(err), h('p', h('a', { href: '#/hosts' }, '← hosts')));
  }
}
