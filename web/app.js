/**
 * The live view: a shell (login, who is logged in, the top navigation) and one page per module
 * under views/, chosen by the URL hash. Each page is an object
 * `{ name, title, href, element, refreshMs, owns(hash), route(hash), reset(), refresh() }`:
 * `owns` says whether the page shows a hash, `route` tells it the hash (true when what it shows
 * changed), `refresh` fetches and renders and throws LoggedOut when the session ended. To add a
 * page, write its module and list it in VIEWS.
 *
 * No build step and no other site: the hub serves this folder as it is, under a
 * Content-Security-Policy of `script-src 'self'; style-src 'self'` (no inline script or style).
 */
import {
  changePassword,
  health,
  loadSession,
  LoggedOut,
  logIn,
  logOut,
  session,
} from './lib/api.js';
import { $, h, setText } from './lib/dom.js';
import { lotsView } from './views/lots.js';
import { oeeView } from './views/oee.js';
import { ordersView } from './views/orders.js';
import { unitsView } from './views/units.js';

/** What a page may ask of the shell. */
const app = {
  /** Refresh the page shown now (after a change it made). */
  refresh: () => tick(),
  /** The hub refused the session: show the login form (with this message, if given). */
  loggedOut: (message) => showLogin(message),
};

/** The pages, in the order of the navigation; the first also shows a hash no page owns. */
const VIEWS = [unitsView, ordersView, lotsView, oeeView];
const views = VIEWS.map((make) => make(app));

for (const view of views) {
  view.element.hidden = true;
  $('main').append(view.element);
  $('nav').append(h('a', { href: view.href, 'data-view': view.name }, view.title));
}

/** The page shown, its refresh timer, and whether a session is being shown at all. */
let current = null;
let timer = null;
let running = false;

function restartTimer() {
  if (timer !== null) clearInterval(timer);
  timer = setInterval(tick, current.refreshMs);
}

/** Show the page the hash names; refresh at once when that changed what shows. */
function route() {
  const hash = location.hash;
  const view = views.find((v) => v.owns(hash)) ?? views[0];
  let changed = false;
  if (view !== current) {
    if (current !== null) current.element.hidden = true;
    current = view;
    view.element.hidden = false;
    for (const a of $('nav').children) {
      if (a.dataset.view === view.name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    document.title = `${view.title} · Millwright`;
    changed = true;
    if (running) restartTimer();
  }
  if (view.route(hash)) changed = true;
  if (changed && running) tick();
}
window.addEventListener('hashchange', route);

/** The line above the page: the store, the hub's status and what it has committed. */
async function showHealth() {
  try {
    const s = await health();
    setText(
      $('meta'),
      `store ${s.store.kind} · ${s.status} · ${s.ingest.committedSamples} samples committed · ` +
        `updated ${new Date().toLocaleTimeString()}`,
    );
  } catch (err) {
    setText($('meta'), `cannot reach the hub: ${err}`);
  }
}

let busy = false;
let again = false;
/** One refresh of the page shown, and of the hub's health line above it. */
async function tick() {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  const view = current;
  try {
    const [, page] = await Promise.allSettled([showHealth(), view.refresh()]);
    if (page.status === 'rejected') {
      if (page.reason instanceof LoggedOut) showLogin(page.reason.shown);
      else setText($('meta'), `cannot reach the hub: ${page.reason}`);
    } else if (running && view === current) {
      $('main').hidden = false;
      $('nav').hidden = false;
      $('login').hidden = true;
    }
  } finally {
    busy = false;
    if (again) {
      again = false;
      tick();
    }
  }
}

/** The login form; refreshing stops until a login. A message replaces the one shown, if given. */
function showLogin(message) {
  running = false;
  if (timer !== null) clearInterval(timer);
  timer = null;
  $('login').hidden = false;
  $('main').hidden = true;
  $('nav').hidden = true;
  $('who').hidden = true;
  if (message !== undefined) $('error').textContent = message;
}

/** Show the session's pages: at once when logged in, else the login form. */
async function start() {
  const me = await loadSession();
  if (!me.ok) {
    showLogin(me.message);
    return showHealth();
  }
  setText($('user'), `logged in as ${session.username}`);
  $('who').hidden = false;
  $('error').textContent = '';
  for (const view of views) view.reset();
  route(); // not running yet: no refresh of its own
  running = true;
  await tick();
  // Refresh while the pages show (not behind the login form).
  if (running) restartTimer();
}

$('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const username = $('username').value;
  const newPassword = $('newPassword').value;
  if (!$('newpw').hidden && newPassword !== '') {
    const refused = await changePassword(username, $('password').value, newPassword);
    if (refused !== null) {
      $('error').textContent = refused;
      return;
    }
    $('password').value = newPassword;
    $('newPassword').value = '';
    $('newpw').hidden = true;
  }
  const answer = await logIn(username, $('password').value);
  if (answer.ok) {
    $('password').value = '';
    return start();
  }
  if (answer.code === 'MW_ERR_AUTH_PASSWORD_CHANGE_REQUIRED') $('newpw').hidden = false;
  $('error').textContent = answer.message;
});

$('logout').addEventListener('click', async () => {
  await logOut();
  showLogin('logged out');
});

start();
