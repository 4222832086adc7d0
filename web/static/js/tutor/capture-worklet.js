// AudioWorklet processor: microphone audio at the context's rate → low-pass filter →
// resampled to the target rate (16 kHz) → 16-bit PCM frames of frameSamples (20 ms), posted to
// the main thread with their RMS and peak levels (0…1). Loaded with audioWorklet.addModule.

class PcmCaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate = 16000, frameSamples = 320 } = options.processorOptions ?? {};
    this.step = sampleRate / targetRate; // input samples per output sample
    this.frameSamples = frameSamples;
    this.frame = new Int16Array(frameSamples);
    this.n = 0;
    this.sumSq = 0;
    this.peak = 0;
    this.t = 0; // position of the next output sample, in input samples after `prev`
    this.prev = 0;
    this.setLowPass(Math.min(targetRate * 0.45, sampleRate * 0.45));
    this.port.onmessage = (e) => {
      if (e.data === 'flush') this.flush();
    };
  }

  // RBJ cookbook biquad low-pass (Butterworth Q), against aliasing before decimation.
  setLowPass(cutoff) {
    const w = (2 * Math.PI * cutoff) / sampleRate;
    const alpha = Math.sin(w) / (2 * Math.SQRT1_2);
    const cos = Math.cos(w);
    const a0 = 1 + alpha;
    this.b0 = (1 - cos) / 2 / a0;
    this.b1 = (1 - cos) / a0;
    this.b2 = this.b0;
    this.a1 = (-2 * cos) / a0;
    this.a2 = (1 - alpha) / a0;
    this.x1 = this.x2 = this.y1 = this.y2 = 0;
  }

  process(inputs) {
    const channel = inputs[0]?.[0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      const x = channel[i];
      const y = this.b0 * x + this.b1 * this.x1 + this.b2 * this.x2 - this.a1 * this.y1 - this.a2 * this.y2;
      this.x2 = this.x1;
      this.x1 = x;
      this.y2 = this.y1;
      this.y1 = y;
      // Linear interpolation between the previous filtered sample and this one.
      while (this.t <= 1) {
        this.emit(this.prev + (y - this.prev) * this.t);
        this.t += this.step;
      }
      this.t -= 1;
      this.prev = y;
    }
    return true;
  }

  emit(v) {
    const s = v > 1 ? 1 : v < -1 ? -1 : v;
    this.frame[this.n++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    this.sumSq += s * s;
    const a = Math.abs(s);
    if (a > this.peak) this.peak = a;
    if (this.n === this.frameSamples) this.flush();
  }

  flush() {
    if (this.n === 0) return;
    const pcm = this.n === this.frameSamples ? this.frame : this.frame.slice(0, this.n);
    this.port.postMessage({ pcm, rms: Math.sqrt(this.sumSq / this.n), peak: this.peak }, [pcm.buffer]);
    this.frame = new Int16Array(this.frameSamples);
    this.n = 0;
    this.sumSq = 0;
    this.peak = 0;
  }
}

registerProcessor('pcm-capture', PcmCaptureProcessor);
