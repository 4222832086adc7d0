// Microphone capture: getUserMedia (echo cancellation, noise suppression and automatic gain
// on) → AudioWorklet (capture-worklet.js) → 20 ms frames of 16 kHz 16-bit PCM with their level.

export const CAPTURE_RATE = 16000;
export const FRAME_MS = 20;
export const FRAME_SAMPLES = (CAPTURE_RATE * FRAME_MS) / 1000;

/** MicError explains why the microphone could not be opened (kind: denied | missing | busy | insecure | other). */
export class MicError extends Error {
  constructor(kind, message, cause) {
    super(message);
    this.name = 'MicError';
    this.kind = kind;
    this.cause = cause;
  }
}

/**
 * startCapture opens the microphone and calls onFrame(pcm Int16Array, rms, peak) every 20 ms.
 * It returns {stop()}. It throws MicError.
 */
export async function startCapture(ctx, onFrame) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new MicError('insecure', 'This browser does not offer the microphone to this page. The microphone only works over HTTPS (or on localhost).');
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
  } catch (err) {
    throw micError(err);
  }
  try {
    await ctx.audioWorklet.addModule(new URL('./capture-worklet.js', import.meta.url));
    const source = ctx.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(ctx, 'pcm-capture', {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: 'explicit',
      processorOptions: { targetRate: CAPTURE_RATE, frameSamples: FRAME_SAMPLES },
    });
    node.port.onmessage = (e) => onFrame(e.data.pcm, e.data.rms, e.data.peak);
    source.connect(node);
    const [track] = stream.getAudioTracks();
    return {
      label: track?.label ?? 'microphone',
      stop() {
        node.port.onmessage = null;
        source.disconnect();
        for (const t of stream.getTracks()) t.stop();
      },
    };
  } catch (err) {
    for (const t of stream.getTracks()) t.stop();
    throw new MicError('other', `The microphone audio could not be processed: ${err.message}`, err);
  }
}

function micError(err) {
  switch (err?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return new MicError('denied', 'Microphone access is blocked for this site.', err);
    case 'NotFoundError':
    case 'OverconstrainedError':
      return new MicError('missing', 'No microphone was found. Connect one and try again.', err);
    case 'NotReadableError':
    case 'AbortError':
      return new MicError('busy', 'The microphone is in use by another application or could not be started.', err);
    default:
      return new MicError('other', `The microphone could not be opened: ${err?.message ?? err}`, err);
  }
}
