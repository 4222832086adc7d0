// The live input level: a scrolling bar graph of the microphone level per 20 ms frame on a
// canvas (sent frames in the accent colour, frames held back — muted, or replaced by silence
// by the echo guard — in grey). It redraws on animation frames only while it changes.

import { cssColor } from '../dom.js';

const FRAMES = 150; // three seconds

export class LevelMeter {
  constructor(canvas) {
    this.canvas = canvas;
    this.levels = new Float32Array(FRAMES);
    this.sent = new Uint8Array(FRAMES);
    this.head = 0;
    this.dirty = false;
    this.raf = 0;
    this.colors = null;
    this.onTheme = () => {
      this.colors = null;
      this.schedule();
    };
    window.addEventListener('themechange', this.onTheme);
  }

  /** push adds a frame's level (RMS 0…1); sent tells whether it went to the server. */
  push(rms, sent) {
    this.levels[this.head] = rms;
    this.sent[this.head] = sent ? 1 : 0;
    this.head = (this.head + 1) % FRAMES;
    this.schedule();
  }

  schedule() {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.draw();
    });
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(c.clientWidth * dpr));
    const hgt = Math.max(1, Math.round(c.clientHeight * dpr));
    if (c.width !== w || c.height !== hgt) {
      c.width = w;
      c.height = hgt;
    }
    this.colors ??= { sent: cssColor('var(--meter-sent)'), held: cssColor('var(--meter-muted)') };
    const g = c.getContext('2d');
    g.clearRect(0, 0, w, hgt);
    const bar = w / FRAMES;
    const mid = hgt / 2;
    for (let i = 0; i < FRAMES; i++) {
      const k = (this.head + i) % FRAMES;
      // -60 dBFS … 0 dBFS → 0 … full height
      const db = 20 * Math.log10(Math.max(this.levels[k], 1e-6));
      const v = Math.max(0, Math.min(1, (db + 60) / 60));
      const half = Math.max(dpr, v * mid * 0.95);
      g.fillStyle = this.sent[k] ? this.colors.sent : this.colors.held;
      g.fillRect(i * bar, mid - half, Math.max(1, bar - dpr), half * 2);
    }
  }

  destroy() {
    cancelAnimationFrame(this.raf);
    window.removeEventListener('themechange', this.onTheme);
  }
}
