// Directives: the list, one directive's XML source, enable/disable (admins), and a dry run over
// stored events showing the alarms it would raise.

import { get, post } from '../api.js';
import { h, fill, panel, pageHead, errorState, emptyState, table, riskBadge, time, ipLink, field, formValues, toast, pill } from '../dom.js';
import { session } from '../main.js';

function toggleButton(d, done) {
  if (!session.can('admin')) return pill(d.enabled ? 'enabled' : 'disabled');
  return h(
    'button.btn.small',
    {
      type: 'button',
      onclick: async () => {
        try {
          const updated = await post(`directives/${d.id}/enabled`, { enabled: !d.enabled });
          toast(`${updated.name}: ${updated.enabled ? 'enabled' : 'disabled'}`);
          done();
        } catch (err) {
          toast(err.message, 'bad');
        }
      },
    },
    d.enabled ? 'Disable' : 'Enable',
  );
}

/** The directive list. */
export async function render(main) {
  const body = h('div');
  fill(main, pageHead('Directives'), body);
  const load = async () => {
    try {
      const d = await get('directives', { limit: 500 });
      fill(
        body,
        table(
          [
            { title: 'Id', cls: 'num', cell: (x) => String(x.id) },
            { title: 'Name', cell: (x) => h('a', { href: `#/directives/${x.id}` }, x.name) },
            { title: 'Priority', cls: 'num', cell: (x) => String(x.priority) },
            { title: 'Levels', cls: 'num', cell: (x) => String(x.levels) },
            { title: 'File', cls: 'mono', cell: (x) => x.file },
            { title: 'Enabled', cell: (x) => (session.can('admin') ? h('span', pill(x.enabled ? 'enabled' : 'disabled'), ' ', toggleButton(x, load)) : pill(x.enabled ? 'enabled' : 'disabled')) },
          ],
          d.items,
          { onRow: (x) => { location.hash = `#/directives/${x.id}`; }, empty: 'No directive is loaded: list directive files in [correlation] directives and reload.' },
        ),
      );
    } catch (err) {
      fill(body, errorState(err));
    }
  };
  await load();
}

function dryRunForm(directiveId) {
  const out = h('div', { id: 'dry-run-result' });
  const hourAgo = new Date(Date.now() - 3600e3).toISOString().replace(/\.\d+Z$/, 'Z');
  const form = h(
    'form.filters',
    { id: 'dry-run' },
    field('From', { name: 'from', value: hourAgo, required: true }),
    field('To', { name: 'to', value: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), required: true }),
    h('div.filter-buttons', h('button.btn.primary', { type: 'submit' }, 'Dry run')),
    h('label.field.grow', h('span', 'Edited source (optional: tried instead of the loaded directive)'), h('textarea.mono', { name: 'source', rows: 4, placeholder: '<directive id="…" …>…</directive>' })),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    fill(out, h('p.muted', 'replaying stored events…'));
    try {
      const { source, ...range } = formValues(form);
      const r = await post('directives/dry-run', source ? { source, ...range } : { directive_id: Number(directiveId), ...range });
      fill(
        out,
        h('p.muted', `${r.events_read} event(s) read, ${r.alarms.length} alarm(s) would be raised`),
        table(
          [
            { title: 'Risk', cell: (a) => riskBadge(a.risk) },
            { title: 'Alarm', cell: (a) => a.name },
            { title: 'Level', cls: 'num', cell: (a) => String(a.level) },
            { title: 'Source', cell: (a) => ipLink(a.src_ip) },
            { title: 'Destination', cell: (a) => ipLink(a.dst_ip) },
            { title: 'First seen', cell: (a) => time(a.first_seen) },
            { title: 'Last seen', cell: (a) => time(a.last_seen) },
          ],
          r.alarms,
          { empty: 'This directive raises no alarm over that range.' },
        ),
      );
    } catch (err) {
      fill(out, errorState(err));
    }
  });
  return h('div', form, out);
}

/** One directive: facts, its XML source, and the dry run (analysts). */
export async function renderDetail(main, id) {
  const load = async () => {
    try {
      const d = await get(`directives/${encodeURIComponent(id)}`);
      fill(
        main,
        pageHead(`${d.id} · ${d.name}`, pill(d.enabled ? 'enabled' : 'disabled'), session.can('admin') ? toggleButton(d, load) : null),
        h('p', h('a', { href: '#/directives' }, '← directives')),
        h(
          'div.grid2.wide-left',
          panel('Source', h('p.muted', `${d.file} · priority ${d.priority} · ${d.levels} level(s)`), h('pre.source', d.source || '')),
          session.can('analyst') ? panel('Dry run over stored events', dryRunForm(d.id)) : panel('Dry run', emptyState('Dry runs need the analyst role.')),
        ),
      );
    } catch (err) {
      fill(main, pageHead('Directive'), errorState(err), h('p', h('a', { href: '#/directives' }, '← directives')));
    }
  };
  await load();
}
