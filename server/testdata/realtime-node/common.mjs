// Shared by the scenario scripts: configuration from the environment, the learner's WAV, a log
// of server events checked against the Agents SDK's schemas of the Realtime events, and the
// result printed for server/realtime_node_test.go.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

// The Agents SDK's zod schemas of the server events (not exported by the package; required by
// path). An event of a type they know must parse, or the SDK would ignore it.
const { realtimeServerEventSchema } = require(
  join(here, 'node_modules/@openai/agents-realtime/dist/openaiRealtimeEvents.js'),
);
const knownTypes = new Set(realtimeServerEventSchema.options.map((o) => o.shape.type.value));

export function env(name, fallback) {
  const v = process.env[name] ?? fallback;
  if (v === undefined) {
    fail(`${name} is not set`);
  }
  return v;
}

export const config = {
  baseURL: env('AITUTOR_BASE_URL'), // https://127.0.0.1:port/v1
  token: env('AITUTOR_TOKEN'),
  membership: env('AITUTOR_MEMBERSHIP', ''),
  conversation: env('AITUTOR_CONVERSATION', ''),
  wav: env('AITUTOR_WAV', ''),
};

// readWav returns the 16-bit mono PCM of a WAV file at 24 kHz (what audio/pcm is).
export function readWav(path) {
  const b = readFileSync(path);
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') {
    fail(`${path} is not a WAV file`);
  }
  let fmt = null;
  for (let off = 12; off + 8 <= b.length; ) {
    const id = b.toString('ascii', off, off + 4);
    const size = b.readUInt32LE(off + 4);
    const body = b.subarray(off + 8, off + 8 + size);
    if (id === 'fmt ') {
      fmt = { format: body.readUInt16LE(0), channels: body.readUInt16LE(2), rate: body.readUInt32LE(4), bits: body.readUInt16LE(14) };
    } else if (id === 'data') {
      if (!fmt || fmt.format !== 1 || fmt.channels !== 1 || fmt.bits !== 16 || fmt.rate !== 24000) {
        fail(`${path}: want 16-bit mono PCM at 24000 Hz, have ${JSON.stringify(fmt)}`);
      }
      return Buffer.from(body);
    }
    off += 8 + size + (size % 2);
  }
  fail(`${path} has no data chunk`);
}

export function silence(ms) {
  return Buffer.alloc((24000 * ms) / 1000 * 2);
}

// chunks splits PCM into pieces of ms.
export function* chunks(pcm, ms = 100) {
  const n = (24000 * ms) / 1000 * 2;
  for (let i = 0; i < pcm.length; i += n) {
    yield pcm.subarray(i, Math.min(i + n, pcm.length));
  }
}

// EventLog keeps the server events in order, checks their shapes, and waits for them.
export class EventLog {
  constructor() {
    this.events = [];
    this.invalid = [];
    this.waiters = [];
  }

  add(ev) {
    this.events.push(ev);
    if (knownTypes.has(ev.type)) {
      const r = realtimeServerEventSchema.safeParse(ev);
      if (!r.success) {
        this.invalid.push({ type: ev.type, issues: r.error.issues.slice(0, 3) });
      }
    }
    for (const w of [...this.waiters]) {
      w.check();
    }
  }

  // next waits for the first event of type (matching pred) after position from; it returns
  // the event and its position.
  next(type, { from = 0, pred = () => true, timeoutMs = 20000 } = {}) {
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          for (let i = from; i < this.events.length; i++) {
            const ev = this.events[i];
            if (ev.type === type && pred(ev)) {
              this.waiters = this.waiters.filter((x) => x !== w);
              clearTimeout(w.timer);
              resolve({ ev, at: i });
              return;
            }
          }
        },
      };
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no ${type} within ${timeoutMs} ms; events after ${from}: ${this.types(from).join(', ')}`));
      }, timeoutMs);
      this.waiters.push(w);
      w.check();
    });
  }

  // types lists the event types from position from, deltas folded.
  types(from = 0) {
    const out = [];
    for (const ev of this.events.slice(from)) {
      if (ev.type.endsWith('.delta') && out[out.length - 1] === ev.type) {
        continue;
      }
      out.push(ev.type);
    }
    return out;
  }

  // inOrder checks that types appear in this order from position from.
  inOrder(types, from = 0) {
    let i = 0;
    for (const ev of this.events.slice(from)) {
      if (i < types.length && ev.type === types[i]) {
        i++;
      }
    }
    if (i < types.length) {
      throw new Error(`${types[i]} missing or out of order in ${this.types(from).join(', ')}`);
    }
  }

  // audio sums the bytes of response.output_audio.delta of response id (any when omitted).
  audioBytes(responseId) {
    let n = 0;
    for (const ev of this.events) {
      if (ev.type === 'response.output_audio.delta' && (!responseId || ev.response_id === responseId)) {
        n += Buffer.from(ev.delta, 'base64').length;
      }
    }
    return n;
  }
}

export function fail(message) {
  process.stderr.write(`FAIL: ${message}\n`);
  process.exit(1);
}

export function check(cond, message) {
  if (!cond) {
    throw new Error(message);
  }
}

// run runs a scenario and prints its result as one JSON line; a thrown error fails it.
export async function run(scenarios) {
  const name = process.argv[2];
  const scenario = scenarios[name];
  if (!scenario) {
    fail(`unknown scenario ${name}; have ${Object.keys(scenarios).join(', ')}`);
  }
  const timer = setTimeout(() => fail(`${name}: still running after 60 s`), 60000);
  try {
    const result = await scenario();
    clearTimeout(timer);
    process.stdout.write(JSON.stringify({ scenario: name, ...result }) + '\n');
    process.exit(0);
  } catch (err) {
    fail(`${name}: ${err.stack ?? err}`);
  }
}
