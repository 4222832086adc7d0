// The echo guard keeps the tutor's own voice, coming back from the speakers into the
// microphone, from reaching the server's speech detector (where it would interrupt the tutor).
// Browser echo cancellation does not cover Web Audio playback everywhere, so while the tutor
// is audible, a microphone frame is forwarded only when its level clearly exceeds the echo
// expected from the playback level and a learned speaker→microphone coupling; other frames are
// replaced by silence of the same length. A short hangover keeps the quiet parts of the
// learner's speech (between syllables) once they clearly started talking.
//
// The coupling is learned from what the microphone hears while the tutor plays: the ratio of
// the microphone level to the playback level, taken as a low percentile over the last few
// seconds — the learner's speech only raises the ratio, so the low end is the echo path.

const DEFAULTS = {
  marginDb: 8, // a frame must be this much louder than the expected echo
  minLevel: 0.004, // never forward frames below this level while the tutor plays (about -48 dBFS)
  hangoverMs: 350,
  frameMs: 20,
  initialCoupling: 0.35, // before anything is learned: a laptop's speakers at a loud volume
  minCoupling: 0.02,
  maxCoupling: 2.5,
  historyFrames: 200, // four seconds of 20 ms frames
  percentile: 0.2,
  minPlaybackLevel: 0.003, // quieter playback cannot produce an echo worth guarding against
};

export class EchoGuard {
  constructor(options = {}) {
    this.o = { ...DEFAULTS, ...options };
    this.margin = 10 ** (this.o.marginDb / 20);
    this.coupling = this.o.initialCoupling;
    this.ratios = [];
    this.hangover = 0; // ms of hangover left
    this.stats = { passed: 0, silenced: 0, guarded: 0 };
  }

  /**
   * admit decides about one microphone frame of level micLevel (RMS, 0…1) while the playback
   * level is playLevel (RMS of what the speakers play, see Player.level). It returns true when
   * the frame should be sent as it is, false when it should be replaced by silence.
   */
  admit(micLevel, playLevel) {
    if (playLevel < this.o.minPlaybackLevel) {
      this.hangover = 0;
      this.stats.passed += 1;
      return true;
    }
    this.stats.guarded += 1;
    const expected = this.coupling * playLevel;
    const loud = micLevel > Math.max(this.o.minLevel, expected * this.margin);
    if (loud) {
      this.hangover = this.o.hangoverMs;
    } else if (this.hangover > 0) {
      this.hangover -= this.o.frameMs;
    }
    this.learn(micLevel / playLevel);
    if (loud || this.hangover > 0) {
      this.stats.passed += 1;
      return true;
    }
    this.stats.silenced += 1;
    return false;
  }

  learn(ratio) {
    this.ratios.push(ratio);
    if (this.ratios.length > this.o.historyFrames) this.ratios.shift();
    if (this.ratios.length < 10) return; // too little to go on: keep the initial guess
    const sorted = [...this.ratios].sort((a, b) => a - b);
    const low = sorted[Math.floor((sorted.length - 1) * this.o.percentile)];
    const target = Math.min(this.o.maxCoupling, Math.max(this.o.minCoupling, low));
    // Rise slowly (speech must not teach the guard to ignore speech), fall quickly.
    this.coupling += (target - this.coupling) * (target > this.coupling ? 0.05 : 0.3);
  }
}
