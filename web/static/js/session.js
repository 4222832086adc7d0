// The signed-in user: the token lives in localStorage so that a reload keeps the session;
// GET /api/users/me validates it and returns the user with their memberships.

const TOKEN_KEY = 'aitutor.token';

export const tokenStore = {
  get() {
    try {
      return localStorage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  },
  set(token) {
    localStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    try {
      localStorage.removeItem(TOKEN_KEY);
    } catch {
      // nothing to clear
    }
  },
};

export class Session {
  constructor(api) {
    this.api = api;
    this.user = null; // the user with memberships, from /api/users/me
  }

  get token() {
    return tokenStore.get();
  }

  get signedIn() {
    return this.user != null;
  }

  get isAdmin() {
    return this.user?.role === 'admin';
  }

  /** refresh reloads the user and their memberships; it throws ApiError (401 clears the session). */
  async refresh(signal) {
    this.user = await this.api.get('/users/me', { signal });
    return this.user;
  }

  async signIn(email, password) {
    const res = await this.api.post('/auth/login', { email, password });
    tokenStore.set(res.token);
    return this.refresh();
  }

  async signUp(name, email, password) {
    const res = await this.api.post('/auth/signup', { name, email, password });
    tokenStore.set(res.token);
    return this.refresh();
  }

  /** clear forgets the token and the user (sign out, or a token the server refused). */
  clear() {
    tokenStore.clear();
    this.user = null;
  }
}
