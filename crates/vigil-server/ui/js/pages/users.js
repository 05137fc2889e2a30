// Users and API tokens (admins): add a user, change a role, disable, remove; create a token
// (shown once) and revoke one.

import { api, get, post } from '../api.js';
import { h, fill, panel, pageHead, errorState, table, time, pill, field, select, formValues, toast } from '../dom.js';
import { session } from '../main.js';

const ROLES = [['viewer', 'viewer'], ['analyst', 'analyst'], ['admin', 'admin']];

async function act(promise, done, message) {
  try {
    await promise;
    toast(message);
    done();
  } catch (err) {
    toast(err.message, 'bad');
  }
}

function usersPanel() {
  const list = h('div', { id: 'user-list' });
  const load = async () => {
    try {
      const d = await get('users');
      const items = d.items || d;
      fill(
        list,
        table(
          [
            { title: 'User', cell: (u) => h('strong', u.name) },
            {
              title: 'Role',
              cell: (u) => {
                const s = h('select', { 'aria-label': `role of ${u.name}`, disabled: u.name === session.username }, ROLES.map(([v, t]) => h('option', { value: v, selected: v === u.role }, t)));
                s.addEventListener('change', () => act(api(`users/${encodeURIComponent(u.name)}`, { method: 'PATCH', body: { role: s.value } }), load, `${u.name} is now ${s.value}`));
                return s;
              },
            },
            { title: 'State', cell: (u) => pill(u.disabled ? 'disabled' : 'enabled') },
            {
              title: '',
              cell: (u) =>
                u.name === session.username
                  ? h('span.muted', 'you')
                  : h(
                      'span.actions',
                      h('button.btn.small', { type: 'button', onclick: () => act(api(`users/${encodeURIComponent(u.name)}`, { method: 'PATCH', body: { disabled: !u.disabled } }), load, `${u.name} ${u.disabled ? 'enabled' : 'disabled'}`) }, u.disabled ? 'Enable' : 'Disable'),
                      h('button.btn.small.danger', { type: 'button', onclick: () => confirm(`Remove ${u.name}?`) && act(api(`users/${encodeURIComponent(u.name)}`, { method: 'DELETE' }), load, `${u.name} removed`) }, 'Remove'),
                    ),
            },
          ],
          items,
          { empty: 'No user yet: add one below.' },
        ),
      );
    } catch (err) {
      fill(list, errorState(err));
    }
  };
  const form = h(
    'form.filters',
    { id: 'add-user' },
    field('Name', { name: 'name', required: true, autocomplete: 'off' }),
    select('Role', 'role', ROLES, 'viewer'),
    field('Password', { name: 'password', type: 'password', required: true, autocomplete: 'new-password', minlength: 12 }),
    h('div.filter-buttons', h('button.btn.primary', { type: 'submit' }, 'Add user')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = formValues(form);
    act(post('users', v), () => { form.reset(); load(); }, `${v.name} added`);
  });
  load();
  return panel('Users', list, h('h3', 'Add a user'), form);
}

function tokensPanel() {
  const list = h('div', { id: 'token-list' });
  const shown = h('div', { id: 'new-token' });
  const load = async () => {
    try {
      const d = await get('tokens');
      fill(
        list,
        table(
          [
            { title: 'Id', cls: 'mono', cell: (t) => String(t.id) },
            { title: 'Name', cell: (t) => t.name },
            { title: 'Role', cell: (t) => t.role },
            { title: 'Created', cell: (t) => time(t.created_at) },
            { title: 'Expires', cell: (t) => (t.expires_at ? time(t.expires_at) : 'never') },
            { title: 'State', cell: (t) => pill(t.revoked_at ? 'revoked' : t.live ? 'active' : 'expired') },
            { title: '', cell: (t) => (t.revoked_at ? '' : h('button.btn.small.danger', { type: 'button', onclick: () => confirm(`Revoke token ${t.name}?`) && act(api(`tokens/${encodeURIComponent(t.id)}`, { method: 'DELETE' }), load, `${t.name} revoked`) }, 'Revoke')) },
          ],
          d.items || d,
          { empty: 'No API token: create one below for scripts and integrations.' },
        ),
      );
    } catch (err) {
      fill(list, errorState(err));
    }
  };
  const form = h(
    'form.filters',
    { id: 'add-token' },
    field('Name', { name: 'name', required: true, autocomplete: 'off' }),
    select('Role', 'role', ROLES, 'viewer'),
    field('Expires in days', { name: 'expires_days', inputmode: 'numeric', placeholder: 'never' }),
    h('div.filter-buttons', h('button.btn.primary', { type: 'submit' }, 'Create token')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = formValues(form);
    if (v.expires_days) v.expires_days = Number(v.expires_days);
    try {
      const t = await post('tokens', v);
      fill(shown, h('div.once', h('strong', 'Copy this token now: it is shown only once.'), h('pre.rawlog', t.token)));
      form.reset();
      load();
    } catch (err) {
      toast(err.message, 'bad');
    }
  });
  load();
  return panel('API tokens', list, shown, h('h3', 'Create a token'), form);
}

/** The users and tokens page. */
export function render(main) {
  fill(main, pageHead('Users & tokens'), h('div.grid2', usersPanel(), tokensPanel()));
}
