// The REST client. Every call goes to /api on the same origin with the bearer token; errors
// become ApiError with the server's {"error":{"code","message"}}.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // 0 when the server could not be reached
    this.code = code;
  }

  /** retryable: the same request may succeed later (network trouble, busy or failing server). */
  get retryable() {
    return this.status === 0 || this.status === 409 || this.status === 429 || this.status >= 500;
  }
}

export class Api {
  /**
   * @param {{getToken: () => string|null, onUnauthorized?: (err: ApiError) => void}} opts
   * onUnauthorized runs when a request that carried a token is refused with 401.
   */
  constructor({ getToken, onUnauthorized }) {
    this.getToken = getToken;
    this.onUnauthorized = onUnauthorized;
  }

  /**
   * request sends one call and resolves with the answer's JSON (null when empty), or with
   * {status, data} when withStatus is set (for routes whose success statuses differ in meaning,
   * such as 201 created and 200 already there).
   */
  async request(method, path, { body, headers = {}, signal, withStatus = false } = {}) {
    const token = this.getToken();
    const init = { method, headers: { Accept: 'application/json', ...headers }, signal };
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(`/api${path}`, init);
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      throw new ApiError(0, 'network', 'Could not reach the server. Check your connection and try again.');
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!res.ok) {
      const e = data?.error;
      const err = new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `The server answered with HTTP ${res.status}.`);
      if (res.status === 401 && token) this.onUnauthorized?.(err);
      throw err;
    }
    return withStatus ? { status: res.status, data } : data;
  }

  get(path, opts) {
    return this.request('GET', path, opts);
  }

  post(path, body, opts = {}) {
    return this.request('POST', path, { ...opts, body });
  }

  del(path, opts) {
    return this.request('DELETE', path, opts);
  }
}

/** query builds "?a=1&b=2" from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * newKey returns a random idempotency key. crypto.randomUUID needs a secure context;
 * getRandomValues works everywhere.
 */
export function newKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
