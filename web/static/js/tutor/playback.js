// Gap-free playback of the tutor's voice: 16-bit mono PCM (24 kHz) arrives in chunks; each
// becomes an AudioBufferSourceNode started exactly when the previous one ends on the
// AudioContext clock, so consecutive chunks join without gaps or overlaps.
//
// Audio belongs to a clip (a reply turn, or a replay). stop() silences everything at once and
// reports how much of each clip was heard, for response.truncate. The level of what is playing
// is kept in 20 ms blocks for the echo guard.

const LEAD_S = 0.08; // buffered before a burst starts, against network jitter
const BLOCK_S = 0.02; // level blocks
const LEVEL_KEEP_S = 2;

export class Player {
  constructor(ctx, { sampleRate = 24000 } = {}) {
    this.ctx = ctx;
    this.sampleRate = sampleRate;
    this.output = ctx.createGain();
    this.output.connect(ctx.destination);
    this.nextTime = 0; // when the next chunk starts (context time)
    this.clips = new Map(); // id → {chunks: [{start, dur, stopAt}], stopped}
    this.live = new Set(); // chunks not yet ended: {src, start, dur, samples, stopAt}
    this.levels = []; // {t, rms, chunk} for every 20 ms block scheduled
    this.stats = { scheduledSamples: 0, playedSamples: 0, chunks: 0, underruns: 0, stops: 0 };
    this.onidle = null; // called when the last scheduled chunk has ended
    this.onclipend = null; // called with a clip's id when its last scheduled chunk has ended (or was stopped)
  }

  /** heardTime is the context time of the sound now leaving the speakers. */
  heardTime() {
    return this.ctx.currentTime - (this.ctx.outputLatency || 0);
  }

  /** playing: audio is scheduled beyond now. */
  get playing() {
    return this.live.size > 0 && this.nextTime > this.ctx.currentTime;
  }

  /** isStopped: the clip was stopped; its later audio is dropped. */
  isStopped(id) {
    return this.clips.get(id)?.stopped === true;
  }

  /**
   * enqueue schedules pcm (Int16Array at rate Hz) for clip id right after what is already
   * scheduled. It returns false when the clip was stopped (its late audio is dropped).
   */
  enqueue(id, pcm, rate = this.sampleRate) {
    let clip = this.clips.get(id);
    if (!clip) {
      clip = { chunks: [], stopped: false };
      this.clips.set(id, clip);
    }
    if (clip.stopped) return false;
    if (pcm.length === 0) return true;
    const ctx = this.ctx;
    const buffer = ctx.createBuffer(1, pcm.length, rate);
    const data = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 32768;
    const now = ctx.currentTime;
    if (this.nextTime < now + 0.01) {
      if (this.live.size > 0) this.stats.underruns += 1;
      this.nextTime = now + LEAD_S;
    }
    const src = ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(this.output);
    const chunk = { src, clip: id, start: this.nextTime, dur: buffer.duration, samples: pcm.length, stopAt: null };
    src.onended = () => this.ended(chunk);
    src.start(chunk.start);
    this.live.add(chunk);
    clip.chunks.push(chunk);
    this.addLevels(data, chunk, rate);
    this.nextTime += chunk.dur;
    this.stats.scheduledSamples += pcm.length;
    this.stats.chunks += 1;
    return true;
  }

  ended(chunk) {
    if (!this.live.delete(chunk)) return;
    const played = chunk.stopAt == null ? chunk.dur : Math.min(chunk.dur, Math.max(0, chunk.stopAt - chunk.start));
    this.stats.playedSamples += Math.round((played / chunk.dur) * chunk.samples);
    chunk.src.disconnect();
    chunk.src = null;
    let more = false;
    for (const c of this.live) more ||= c.clip === chunk.clip;
    if (!more) this.onclipend?.(chunk.clip);
    if (this.live.size === 0) this.onidle?.();
  }

  addLevels(data, chunk, rate) {
    const block = Math.max(1, Math.round(rate * BLOCK_S));
    for (let i = 0; i < data.length; i += block) {
      const end = Math.min(data.length, i + block);
      let sum = 0;
      for (let j = i; j < end; j++) sum += data[j] * data[j];
      this.levels.push({ t: chunk.start + i / rate, rms: Math.sqrt(sum / (end - i)), chunk });
    }
  }

  /**
   * level is the loudest 20 ms block played during the last `window` seconds: what the
   * microphone may hear of the speakers now, allowing for the acoustic and processing delay.
   */
  level(window = 0.3) {
    const now = this.heardTime();
    if (this.levels.length > 256 && this.levels[0].t < now - LEVEL_KEEP_S) {
      this.levels = this.levels.filter((b) => b.t >= now - LEVEL_KEEP_S && !silenced(b));
    }
    let max = 0;
    for (const b of this.levels) {
      if (b.t <= now && b.t + BLOCK_S >= now - window && b.rms > max && !silenced(b)) max = b.rms;
    }
    return max;
  }

  /** heardMs is how many milliseconds of clip id have been played so far. */
  heardMs(id) {
    const clip = this.clips.get(id);
    if (!clip) return 0;
    const now = this.heardTime();
    let s = 0;
    for (const c of clip.chunks) {
      const end = Math.min(now, c.stopAt ?? Infinity);
      s += Math.min(c.dur, Math.max(0, end - c.start));
    }
    return Math.round(s * 1000);
  }

  /** stopClip silences clip id now and drops its later audio; it returns the ms heard. */
  stopClip(id) {
    const clip = this.clips.get(id);
    if (!clip) {
      this.clips.set(id, { chunks: [], stopped: true });
      return 0;
    }
    const heard = this.heardMs(id);
    clip.stopped = true;
    const now = this.ctx.currentTime;
    for (const c of clip.chunks) this.silence(c, now);
    this.reschedule();
    return heard;
  }

  /**
   * resumeClip lets clip id play again after a stop: the server resumed the reply
   * (response.resumed), and its audio follows from the start of the sentence it was cut in.
   */
  resumeClip(id) {
    const clip = this.clips.get(id);
    if (clip) clip.stopped = false;
  }

  /**
   * stop silences everything now. It returns {id: ms heard} for every clip that was still
   * playing or scheduled, and marks those clips stopped.
   */
  stop() {
    const now = this.ctx.currentTime;
    const heard = {};
    for (const [id, clip] of this.clips) {
      if (clip.stopped) continue;
      if (clip.chunks.some((c) => this.live.has(c))) {
        heard[id] = this.heardMs(id);
        clip.stopped = true;
        for (const c of clip.chunks) this.silence(c, now);
      }
    }
    this.reschedule();
    return heard;
  }

  silence(chunk, now) {
    if (!this.live.has(chunk) || chunk.stopAt != null) return;
    chunk.stopAt = Math.max(now, chunk.start);
    this.stats.stops += 1;
    try {
      chunk.src.stop();
    } catch {
      // not started yet and already stopped: nothing to do
    }
    if (chunk.start >= now) this.ended(chunk); // never started: onended may not come
  }

  /** reschedule lets new audio start now rather than after the silenced future. */
  reschedule() {
    let end = this.ctx.currentTime;
    for (const c of this.live) if (c.stopAt == null) end = Math.max(end, c.start + c.dur);
    this.nextTime = end;
  }

  /** forget drops the bookkeeping of a clip that has finished. */
  forget(id) {
    const clip = this.clips.get(id);
    if (clip && !clip.chunks.some((c) => this.live.has(c))) this.clips.delete(id);
  }

  close() {
    this.stop();
    this.output.disconnect();
  }
}

/** pcmFromBytes views little-endian 16-bit PCM bytes as samples (copying when unaligned or big-endian). */
export function pcmFromBytes(buffer) {
  const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const n = bytes.byteLength >> 1;
  if (littleEndian && bytes.byteOffset % 2 === 0) return new Int16Array(bytes.buffer, bytes.byteOffset, n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

/** silenced: the block was cut off by a stop before it played. */
function silenced(b) {
  return b.chunk.stopAt != null && b.t >= b.chunk.stopAt;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
