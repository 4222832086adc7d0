// aitutor's browser UI: boot, layout chrome and routing. Pages live in pages/, the voice
// client in tutor/, the review request in review.js. Every page is a function ({root, params,
// api, session, navigate, signal}) that renders into root and may return a cleanup function,
// run when the page is left.

import { Api } from './api.js';
import { h, replace } from './dom.js';
import { Router } from './router.js';
import { Session, tokenStore } from './session.js';
import * as theme from './theme.js';
import { closeDialogs, errorText, toast } from './ui.js';
import { signinPage, signupPage } from './pages/signin.js';
import { homePage } from './pages/home.js';
import { welcomePage } from './pages/home-public.js';
import { tutorChoicePage } from './pages/tutor-choose.js';
import { adminCompaniesPage, adminCompanyPage } from './pages/admin-companies.js';
import { plansPage } from './pages/plans.js';
import { tutorPage } from './pages/tutor.js';
import { conversationPage } from './pages/conversation.js';
import { reviewPage } from './pages/review.js';
import { adminPlansPage } from './pages/admin-plans.js';
import { adminUsersPage, adminUserPage } from './pages/admin-users.js';
import { adminMetricsPage } from './pages/admin-metrics.js';

const main = document.getElementById('main');

const routes = [
  { path: '/signin', title: 'Sign in', page: signinPage, public: true },
  { path: '/signup', title: 'Create an account', page: signupPage, public: true },
  // Visitors who are not signed in see what the tutor does and its plans.
  { path: '/', title: 'Home', page: homePage, visitor: { title: 'Practise speaking English', page: welcomePage }, nav: 'home' },
  { path: '/plans', title: 'Plans', page: plansPage, nav: 'plans' },
  { path: '/tutor', title: 'Tutor', page: tutorChoicePage, nav: 'tutor' },
  { path: '/tutor/:membershipId', title: 'Tutor', page: tutorPage, nav: 'tutor' },
  { path: '/tutor/:membershipId/:conversationId', title: 'Tutor', page: tutorPage, nav: 'tutor' },
  { path: '/conversations/:conversationId', title: 'Conversation', page: conversationPage, nav: 'home' },
  { path: '/conversations/:conversationId/review', title: 'Review', page: reviewPage, nav: 'home' },
  { path: '/admin', redirect: '/admin/plans' },
  { path: '/admin/plans', title: 'Admin · Plans', page: adminPlansPage, admin: true, nav: 'admin' },
  { path: '/admin/users', title: 'Admin · Users', page: adminUsersPage, admin: true, nav: 'admin' },
  { path: '/admin/users/:userId', title: 'Admin · User', page: adminUserPage, admin: true, nav: 'admin' },
  { path: '/admin/metrics', title: 'Admin · Metrics', page: adminMetricsPage, admin: true, nav: 'admin' },
  { path: '/admin/companies', title: 'Admin · Companies', page: adminCompaniesPage, admin: true, nav: 'admin' },
  { path: '/admin/companies/:companyId', title: 'Admin · Company', page: adminCompanyPage, admin: true, nav: 'admin' },
];

const api = new Api({ getToken: () => tokenStore.get(), onUnauthorized: sessionEnded });
const session = new Session(api);
const router = new Router(routes, (route, params, path) => {
  show(route, params, path).catch((err) => renderError(err));
});

let current = null; // the page shown: {controller, cleanup}
let generation = 0; // increases with every route change, so that stale renders stop
let afterSignIn = null; // the path a signed-out visitor asked for
let firstRoute = true;

function navigate(path, opts) {
  router.navigate(path, opts);
}

function sessionEnded() {
  if (!session.token) return;
  session.clear();
  afterSignIn = router.path;
  toast('Your session has ended. Please sign in again.', { kind: 'error' });
  navigate('/signin', { replace: true });
}

async function leave() {
  const page = current;
  current = null;
  closeDialogs();
  if (!page) return;
  page.controller.abort();
  try {
    await page.cleanup?.();
  } catch (err) {
    console.error('leaving the page', err);
  }
}

async function show(route, params, path) {
  const gen = ++generation;
  await leave();
  if (gen !== generation) return;
  if (route?.redirect) {
    navigate(route.redirect, { replace: true });
    return;
  }
  if (route?.visitor && !session.token) {
    route = { ...route.visitor, public: true, nav: null };
  } else if (route && !route.public) {
    if (!session.token) {
      afterSignIn = path;
      navigate('/signin', { replace: true });
      return;
    }
    if (!session.user) {
      try {
        await session.refresh();
      } catch (err) {
        if (err.status === 401 || gen !== generation) return; // sessionEnded took over
        throw err;
      }
      if (gen !== generation) return;
    }
    if (route.admin && !session.isAdmin) {
      toast('Not allowed: the admin dashboard is only for administrators.', { kind: 'error' });
      navigate('/', { replace: true });
      return;
    }
  } else if (route?.public && session.token) {
    // Signed in already (for example after a reload on #/signin): go on.
    try {
      if (!session.user) await session.refresh();
      if (gen !== generation) return;
      navigate(takeAfterSignIn(), { replace: true });
      return;
    } catch (err) {
      if (err.status !== 401) throw err;
      if (gen !== generation) return; // sessionEnded showed the sign-in page
    }
  }
  renderChrome(route);
  const controller = new AbortController();
  current = { controller, cleanup: null };
  main.replaceChildren();
  if (!route) {
    document.title = 'Not found · aitutor';
    replace(main, h('h1', {}, 'Page not found'), h('p', {}, "There's nothing at this address. ", h('a', { href: '#/' }, 'Go home'), '.'));
    focusHeading();
    return;
  }
  document.title = `${route.title} · aitutor`;
  const ctx = {
    root: main, params, api, session, signal: controller.signal, navigate,
    afterSignIn: takeAfterSignIn,
  };
  const rendering = route.page(ctx);
  focusHeading();
  try {
    const cleanup = await rendering;
    if (current?.controller === controller) current.cleanup = cleanup;
    else await cleanup?.();
  } catch (err) {
    if (controller.signal.aborted || err.name === 'AbortError' || err.status === 401) return;
    throw err;
  }
}

function takeAfterSignIn() {
  const path = afterSignIn && !afterSignIn.startsWith('/sign') ? afterSignIn : '/';
  afterSignIn = null;
  return path;
}

/**
 * focusHeading moves focus to the new page's heading, so that keyboard and screen-reader users
 * start at the top of the new page — unless this is the first load or the page focused a
 * control itself (the sign-in form).
 */
function focusHeading() {
  if (firstRoute) {
    firstRoute = false;
    return;
  }
  if (main.contains(document.activeElement) && document.activeElement !== main) return;
  const heading = main.querySelector('h1');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  } else {
    main.focus({ preventScroll: true });
  }
}

function renderError(err) {
  console.error(err);
  replace(
    main,
    h('h1', {}, 'Something went wrong'),
    h('div', { class: 'notice notice-error', role: 'alert' }, h('p', {}, errorText(err))),
    h('p', {}, h('button', { type: 'button', onclick: () => router.resolve() }, 'Try again')),
  );
}

function renderChrome(route) {
  const nav = document.getElementById('nav');
  const account = document.getElementById('account');
  const user = session.user;
  if (!user || route?.public) {
    // Visitors: the way in.
    nav.replaceChildren();
    replace(
      account,
      route?.path === '/signin' ? null : h('a', { class: 'button icon-button', href: '#/signin', id: 'nav-signin' }, 'Sign in'),
      route?.path === '/signup' ? null : h('a', { class: 'button icon-button primary', href: '#/signup', id: 'nav-signup' }, 'Create account'),
    );
    return;
  }
  const links = [
    ['home', '#/', 'Home'],
    ['tutor', '#/tutor', 'Tutor'],
    ['plans', '#/plans', 'Plans'],
  ];
  if (session.isAdmin) links.push(['admin', '#/admin/plans', 'Admin']);
  replace(nav, links.map(([key, href, label]) => h('a', { href, 'aria-current': route?.nav === key ? 'page' : null }, label)));
  replace(
    account,
    h('span', { class: 'account-name', title: user.email }, user.name),
    h('button', { type: 'button', id: 'sign-out', class: 'icon-button', onclick: signOut }, 'Sign out'),
  );
}

function signOut() {
  session.clear();
  toast('You are signed out.', { kind: 'ok' });
  navigate('/signin');
}

theme.bindToggle(document.getElementById('theme-toggle'));
// The top bar's height, for pages that fill the screen below it (the tutor).
const topbar = document.querySelector('.topbar');
new ResizeObserver(() => {
  document.documentElement.style.setProperty('--topbar-h', `${topbar.offsetHeight}px`);
}).observe(topbar);
document.getElementById('skip-link').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
router.start();
