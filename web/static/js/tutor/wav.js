// Reading the 16-bit PCM WAV files the server stores for replies (GET /api/audio/:id).

/** parseWav returns {rate, pcm: Int16Array} of a 16-bit PCM mono WAV file, or throws. */
export function parseWav(buffer) {
  const v = new DataView(buffer);
  const tag = (off) => String.fromCharCode(v.getUint8(off), v.getUint8(off + 1), v.getUint8(off + 2), v.getUint8(off + 3));
  if (buffer.byteLength < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error('not a WAV file');
  let rate = 0;
  let bits = 0;
  let channels = 0;
  let format = 0;
  for (let off = 12; off + 8 <= buffer.byteLength; ) {
    const id = tag(off);
    const size = v.getUint32(off + 4, true);
    const body = off + 8;
    if (id === 'fmt ') {
      format = v.getUint16(body, true);
      channels = v.getUint16(body + 2, true);
      rate = v.getUint32(body + 4, true);
      bits = v.getUint16(body + 14, true);
    } else if (id === 'data') {
      if (format !== 1 || bits !== 16 || channels !== 1) throw new Error('only 16-bit mono PCM WAV is supported');
      const len = Math.min(size, buffer.byteLength - body) >> 1;
      const pcm = new Int16Array(len);
      for (let i = 0; i < len; i++) pcm[i] = v.getInt16(body + i * 2, true);
      return { rate, pcm };
    }
    off = body + size + (size & 1);
  }
  throw new Error('the WAV file has no audio data');
}
