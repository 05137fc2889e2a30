// The audit log (admins): who did what, when, from where, filtered by time, actor and action.

import { get } from '../api.js';
import { h, fill, pageHead, errorState, table, time, pill, field, select, formValues } from '../dom.js';

const ACTIONS = ['login', 'login_failed', 'logout', 'alarm_triage', 'alarm_assign', 'user_add', 'user_change', 'user_remove', 'token_create', 'token_revoke', 'directive_enable', 'directive_disable', 'reload', 'command'];

/** The audit log with filters and paging. */
export function render(main) {
  const results = h('div', { id: 'audit-results' });
  let query = {};
  let items = [];
  const form = h(
    'form.filters',
    { id: 'audit-filters' },
    field('From', { name: 'from', placeholder: 'RFC 3339 or epoch s' }),
    field('To', { name: 'to', placeholder: 'RFC 3339 or epoch s' }),
    field('Actor', { name: 'actor' }),
    select('Action', 'action', [['', 'any'], ...ACTIONS.map((a) => [a, a])], ''),
    h('div.filter-buttons', h('button.btn.primary', { type: 'submit' }, 'Filter')),
  );
  const load = async (cursor) => {
    try {
      const d = await get('audit', { ...query, limit: 100, cursor });
      items = cursor ? items.concat(d.items) : d.items;
      fill(
        results,
        table(
          [
            { title: 'Time', cell: (e) => time(e.time) },
            { title: 'Actor', cell: (e) => e.actor },
            { title: 'Action', cls: 'mono', cell: (e) => e.action },
            { title: 'Target', cell: (e) => (e.target && /^[0-9a-f-]{36}$/.test(e.target) ? h('a', { href: `#/alarms/${e.target}` }, e.target) : e.target || '—') },
            { title: 'Outcome', cell: (e) => pill(e.outcome) },
            { title: 'Detail', cell: (e) => (typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail ?? '')) },
            { title: 'Peer', cls: 'mono', cell: (e) => e.peer || '—' },
          ],
          items,
          { empty: 'No audit entry matches these filters.' },
        ),
        d.next_cursor ? h('button.btn', { type: 'button', onclick: () => load(d.next_cursor) }, 'More') : null,
      );
    } catch (err) {
      fill(results, errorState(err));
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    query = formValues(form);
    load();
  });
  fill(main, pageHead('Audit log'), form, results);
  load();
}
