// Alarm detail: directive levels as a timeline with their evidence (raw logs visible), the
// hosts with their asset and C&A levels, related alarms, triage with comment, assignment and
// history.

import { get, post } from '../api.js';
import { h, fill, panel, pageHead, errorState, emptyState, table, time, ago, riskBadge, pill, ipLink, facts, toast } from '../dom.js';
import { session } from '../main.js';

/** Evidence events shown before "show all". */
const SHOWN = 20;

/** Evidence events as rows whose raw log is shown under the fields; a click opens the event. */
export function evidenceList(events, all = false) {
  if (!events.length) return emptyState('No stored event for this level (the store may have expired them).');
  const shown = all ? events : events.slice(0, SHOWN);
  const list = h(
    'ul.evidence',
    shown.map((e) =>
      h(
        'li.ev',
        h(
          'div.ev-head',
          h('a.ev-link', { href: `#/events/${e.id}`, title: 'open the event' }, time(e.time)),
          h('span.mono', `${e.plugin_id}:${e.plugin_sid}`),
          h('span', ipLink(e.src_ip), e.src_port ? `:${e.src_port}` : '', ' → ', ipLink(e.dst_ip), e.dst_port ? `:${e.dst_port}` : ''),
          e.username ? h('span.muted', `user ${e.username}`) : null,
          h('span.muted', e.provenance?.sensor || ''),
        ),
        h('pre.rawlog', e.log || '(no raw log)'),
      ),
    ),
  );
  if (shown.length === events.length) return list;
  const more = h('button.btn.small', { type: 'button', onclick: () => wrap.replaceWith(evidenceList(events, true)) }, `Show all ${events.length} events`);
  const wrap = h('div', list, more);
  return wrap;
}

function hostCard(title, ip) {
  const box = h('div.host-card', h('h3', title, ' ', ipLink(ip)), h('p.muted', ip ? 'loading…' : 'no address'));
  if (!ip) return box;
  get(`hosts/${encodeURIComponent(ip)}`)
    .then((host) => {
      fill(
        box,
        h('h3', title, ' ', ipLink(ip)),
        facts([
          ['Asset value', String(host.asset ?? '—')],
          ['Compromise (C)', h('span.level', String(host.compromise ?? 0))],
          ['Attack (A)', h('span.level', String(host.attack ?? 0))],
          ['Inventory', host.inventory ? h('code', JSON.stringify(host.inventory)) : 'not in the inventory'],
        ]),
      );
    })
    .catch((err) => fill(box, h('h3', title, ' ', ipLink(ip)), err.status === 404 ? h('p.muted', 'No record of this host yet.') : errorState(err)));
  return box;
}

function triageForm(alarm, reload) {
  const comment = h('textarea', { name: 'comment', id: 'triage-comment', rows: 2, placeholder: 'Comment (optional)' });
  const act = async (status) => {
    try {
      await post(`alarms/${alarm.id}/triage`, comment.value.trim() ? { status, comment: comment.value.trim() } : { status });
      toast(`Alarm ${status}`);
      reload();
    } catch (err) {
      toast(err.message, 'bad');
    }
  };
  const who = h('input', { name: 'user', id: 'assign-user', placeholder: 'user name', value: alarm.assignee || '' });
  const assign = async (user) => {
    try {
      await post(`alarms/${alarm.id}/assign`, { user });
      toast(user ? `Assigned to ${user}` : 'Unassigned');
      reload();
    } catch (err) {
      toast(err.message, 'bad');
    }
  };
  const status = alarm.triage?.status || 'open';
  return h(
    'div.triage',
    { id: 'triage' },
    comment,
    h(
      'div.actions',
      status !== 'acknowledged' ? h('button.btn', { id: 'ack', type: 'button', onclick: () => act('acknowledged') }, 'Acknowledge') : null,
      status !== 'closed' ? h('button.btn', { id: 'close', type: 'button', onclick: () => act('closed') }, 'Close') : null,
      status !== 'open' ? h('button.btn.ghost', { id: 'reopen', type: 'button', onclick: () => act('open') }, 'Reopen') : null,
    ),
    h(
      'div.actions',
      who,
      h('button.btn', { type: 'button', id: 'assign', onclick: () => assign(who.value.trim() || null) }, 'Assign'),
      h('button.btn.ghost', { type: 'button', onclick: () => assign(session.username) }, 'Assign to me'),
    ),
  );
}

/** Renders alarm `id`. */
export async function render(main, id) {
  const load = async () => {
    let d;
    try {
      d = await get(`alarms/${encodeURIComponent(id)}`);
    } catch (err) {
      fill(main, pageHead('Alarm'), errorState(err), h('p', h('a', { href: '#/alarms' }, '← back to the alarms')));
      return;
    }
    const a = d.alarm;
    const levels = d.evidence || [];
    const timeline = h(
      'ol.timeline',
      { id: 'timeline' },
      levels.map((l) =>
        h(
          'li.level',
          h('div.level-head', h('span.level-num', `Level ${l.level}`), h('span.muted', `${l.events.length} event(s)`), l.events.length ? h('span.muted', `${time(l.events[0].time)} – ${time(l.events[l.events.length - 1].time)}`) : null),
          evidenceList(l.events),
        ),
      ),
    );
    fill(
      main,
      pageHead(a.name, riskBadge(a.risk), pill(a.triage?.status || 'open'), pill(a.correlation)),
      h('p', h('a', { href: '#/alarms' }, '← alarms')),
      h(
        'div.detail-grid',
        h(
          'div.detail-main',
          panel(
            'Summary',
            facts([
              ['Directive', a.directive_id ? h('a', { href: `#/directives/${a.directive_id}` }, `${a.directive_id}`) : 'single event'],
              ['Rule fired last', a.rule],
              ['Level', String(a.level)],
              ['Priority / reliability', `${a.priority} / ${a.reliability}`],
              ['Source', h('span', ipLink(a.src_ip), a.src_port ? `:${a.src_port}` : '')],
              ['Destination', h('span', ipLink(a.dst_ip), a.dst_port ? `:${a.dst_port}` : '')],
              ['Protocol', a.protocol],
              ['First seen', time(a.first_seen)],
              ['Last seen', `${time(a.last_seen)} (${ago(a.last_seen)})`],
              ['Ended', a.ended_at ? time(a.ended_at) : null],
              ['Events', `${a.event_count}${a.evidence_omitted ? ` (${a.evidence_omitted} left out of the evidence)` : ''}`],
              ['Users', (a.usernames || []).join(', ')],
              ['Sensors', (a.sensors || []).join(', ')],
              ['Assignee', a.assignee],
              ['Triage', a.triage?.by ? `${a.triage.status} by ${a.triage.by} at ${time(a.triage.at)}${a.triage.comment ? ` — “${a.triage.comment}”` : ''}` : a.triage?.status],
              ['Revisions', String((d.revisions || []).length)],
            ], true),
          ),
          panel('Directive levels and evidence', levels.length ? timeline : emptyState('This alarm has no evidence events.')),
        ),
        h(
          'div.detail-side',
          session.can('analyst') ? panel('Triage', triageForm(a, load)) : null,
          panel('Hosts', hostCard('Source', a.src_ip), hostCard('Destination', a.dst_ip)),
          panel(
            'Related alarms (same source)',
            table(
              [
                { title: 'Risk', cell: (r) => riskBadge(r.risk) },
                { title: 'Alarm', cell: (r) => h('a', { href: `#/alarms/${r.id}` }, r.name) },
                { title: 'Triage', cell: (r) => pill(r.triage?.status) },
                { title: 'Last seen', cell: (r) => ago(r.last_seen) },
              ],
              d.related || [],
              { empty: 'No other alarm from this source.' },
            ),
          ),
          panel(
            'History',
            table(
              [
                { title: 'Time', cell: (e) => time(e.time) },
                { title: 'Who', cell: (e) => e.actor },
                { title: 'Action', cell: (e) => e.action },
                { title: 'Detail', cell: (e) => (typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail ?? '')) },
              ],
              d.history || [],
              { empty: 'Nobody has triaged this alarm yet.' },
            ),
          ),
        ),
      ),
    );
  };
  await load();
}
