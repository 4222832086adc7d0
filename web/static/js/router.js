// Hash routes: "#/plans", "#/tutor/<membershipId>/<conversationId>", "#/admin/users/<id>".
// Patterns use ":name" segments for parameters.

export class Router {
  /**
   * @param {Array<{path: string}>} routes in order; the first match wins
   * @param {(route: object|null, params: object, path: string) => void} onRoute
   */
  constructor(routes, onRoute) {
    this.routes = routes.map((r) => ({ ...r, re: compile(r.path) }));
    this.onRoute = onRoute;
  }

  start() {
    window.addEventListener('hashchange', () => this.resolve());
    this.resolve();
  }

  /** path is the current route path ("/plans"). */
  get path() {
    const hash = window.location.hash;
    return hash.startsWith('#/') ? hash.slice(1) : '/';
  }

  resolve() {
    const path = this.path.split('?')[0];
    for (const route of this.routes) {
      const m = route.re.exec(path);
      if (m) {
        this.onRoute(route, m.groups ?? {}, path);
        return;
      }
    }
    this.onRoute(null, {}, path);
  }

  /** navigate goes to path; replace keeps the current entry out of the history. */
  navigate(path, { replace = false } = {}) {
    const hash = `#${path}`;
    if (window.location.hash === hash) {
      this.resolve();
    } else if (replace) {
      window.location.replace(hash);
    } else {
      window.location.hash = hash;
    }
  }
}

function compile(pattern) {
  const src = pattern
    .split('/')
    .map((seg) => (seg.startsWith(':') ? `(?<${seg.slice(1)}>[^/]+)` : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${src}/?$`);
}
