// The console's shell: session, login screen, navigation and hash routing to the pages.

import { api, setCsrf, whenUnauthorized } from './api.js';
import { h, fill, errorState } from './dom.js';
import * as dashboard from './pages/dashboard.js';
import * as alarms from './pages/alarms.js';
import * as alarm from './pages/alarm.js';
import * as events from './pages/events.js';
import * as sensors from './pages/sensors.js';
import * as directives from './pages/directives.js';
import * as hosts from './pages/hosts.js';
import * as users from './pages/users.js';
import * as audit from './pages/audit.js';

const RANK = { viewer: 0, analyst: 1, admin: 2 };

/** The logged-in user: {username, role}, plus `can(role)`. */
export const session = {
  username: null,
  role: null,
  can(role) {
    return this.role !== null && RANK[this.role] >= RANK[role];
  },
};

// [hash prefix, page module, nav label (or null), least role]
const ROUTES = [
  ['dashboard', dashboard, 'Dashboard', 'viewer'],
  ['alarms', alarms, 'Alarms', 'viewer', alarm],
  ['events', events, 'Events', 'viewer', events],
  ['sensors', sensors, 'Sensors', 'viewer'],
  ['directives', directives, 'Directives', 'viewer', directives],
  ['hosts', hosts, 'Hosts', 'viewer', hosts],
  ['users', users, 'Users & tokens', 'admin'],
  ['audit', audit, 'Audit log', 'admin'],
];

const main = document.getElementById('main');
let cleanup = null;

function showLogin(message) {
  session.username = session.role = null;
  setCsrf(null);
  stopPage();
  document.getElementById('top').hidden = true;
  const error = h('p.login-error', { role: 'alert' }, message || '');
  const form = h(
    'form.login-box',
    { id: 'login-form' },
    h('div.login-brand', h('img', { src: '/assets/logo.svg', alt: '', width: 48, height: 48 }), h('h1', 'Vigil')),
    h('p.muted', 'Security console — sign in'),
    h('label.field', h('span', 'User name'), h('input', { name: 'username', id: 'username', autocomplete: 'username', required: true, autofocus: true })),
    h('label.field', h('span', 'Password'), h('input', { name: 'password', id: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('button.btn.primary', { type: 'submit', id: 'login-submit' }, 'Sign in'),
    error,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const data = new FormData(form);
    try {
      const who = await api('login', { method: 'POST', body: { username: data.get('username'), password: data.get('password') }, quiet401: true });
      start(who);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  fill(main, h('div.login-wrap', form));
  form.querySelector('input').focus();
}

function start(who) {
  session.username = who.username;
  session.role = who.role;
  setCsrf(who.csrf_token);
  document.getElementById('top').hidden = false;
  fill(document.getElementById('who'), h('span.user', who.username), ' ', h('span.badge.role', who.role));
  fill(
    document.getElementById('nav'),
    ROUTES.filter(([, , label, role]) => label && session.can(role)).map(([name, , label]) => h('a', { href: `#/${name}`, dataset: { route: name } }, label)),
  );
  if (!location.hash || location.hash === '#/' || location.hash === '#') location.hash = '#/alarms';
  else route();
}

function stopPage() {
  if (typeof cleanup === 'function') cleanup();
  cleanup = null;
}

function route() {
  if (!session.role) return;
  stopPage();
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const name = parts[0] || 'alarms';
  const param = parts.slice(1).map(decodeURIComponent).join('/');
  const entry = ROUTES.find(([n]) => n === name);
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.route === name);
  if (!entry) {
    fill(main, errorState({ title: 'Not found', message: `There is no page "${name}". Pick one in the navigation.` }));
    return;
  }
  const [, list, label, role, detail] = entry;
  if (!session.can(role)) {
    fill(main, errorState({ status: 403, title: 'Forbidden', message: `${label} requires the ${role} role.` }));
    return;
  }
  const page = param && detail ? detail : list;
  document.title = `${label} — Vigil`;
  main.replaceChildren();
  main.scrollTop = 0;
  const view = param && detail ? page.renderDetail || page.render : page.render;
  Promise.resolve(view(main, param))
    .then((stop) => {
      cleanup = stop;
    })
    .catch((err) => fill(main, errorState(err)));
}

whenUnauthorized(() => showLogin('Your session has ended; sign in again.'));
window.addEventListener('hashchange', route);
document.getElementById('logout').addEventListener('click', async () => {
  try {
    await api('logout', { method: 'POST' });
  } catch {
    // The session is gone either way.
  }
  location.hash = '';
  showLogin('You have logged out.');
});

api('session', { quiet401: true })
  .then(start)
  .catch(() => showLogin());
