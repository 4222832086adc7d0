// Stored recordings (GET /api/audio/<id>, 16-bit mono WAV: the learner's at 16 kHz, the tutor's
// at 24 kHz), fetched for replay. The server writes a turn's audio just after telling the page
// about it, so a fetch in the first moments may answer 404: it is retried a few times.

import * as debug from './debug.js';
import { parseWav } from './wav.js';

const RETRIES = [300, 700, 1500]; // ms to wait before each retry after a 404
const cache = new Map(); // url → Promise<{rate, pcm}>

/** loadClip returns {rate, pcm: Int16Array} of the stored clip at url. */
export function loadClip(url, { signal } = {}) {
  let p = cache.get(url);
  if (!p) {
    p = fetchClip(url, signal);
    cache.set(url, p);
    p.catch(() => cache.delete(url));
    if (cache.size > 50) cache.delete(cache.keys().next().value);
  }
  return p;
}

async function fetchClip(url, signal) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, { signal });
    if (res.status === 404 && attempt < RETRIES.length) {
      await sleep(RETRIES[attempt], signal);
      continue;
    }
    if (!res.ok) {
      debug.log('clip', { url, status: res.status, attempts: attempt + 1 });
      throw new Error(res.status === 404 ? 'the recording is no longer stored' : `HTTP ${res.status}`);
    }
    const clip = parseWav(await res.arrayBuffer());
    debug.log('clip', { url, status: res.status, attempts: attempt + 1, rate: clip.rate, samples: clip.pcm.length });
    return clip;
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
      },
      { once: true },
    );
  });
}
