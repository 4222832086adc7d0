package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Uploaded recordings (POST /api/tutor/chat) are decoded to 16 kHz samples before anything is
// charged or transcribed, so that the same rule holds for them as for live speech: audio without
// detected speech never reaches the transcriber (Whisper invents text from silence). WAV and raw
// PCM are read here; webm, ogg, mp3, m4a and flac with ffmpeg when it is installed. Where it is
// not (the distroless image), those formats go to the transcriber unchecked.

// ffmpegPath is ffmpeg's path, or "" when it is not installed.
var ffmpegPath = sync.OnceValue(func() string {
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		return ""
	}
	return p
})

const decodeTimeout = 20 * time.Second

// decodeSpeech decodes a clip to 16 kHz mono samples. ok is false when this server cannot
// decode its format; an error means the clip is malformed (ErrUnsupportedAudio).
func decodeSpeech(ctx context.Context, a Audio) (samples []int16, ok bool, err error) {
	switch a.Format {
	case FormatPCM16:
		if a.SampleRate <= 0 {
			return nil, true, fmt.Errorf("%w: raw PCM needs a sample rate", ErrUnsupportedAudio)
		}
		return ResampleAll(DecodePCM16(nil, a.Data[:len(a.Data)&^1]), a.SampleRate, DetectorRate), true, nil
	case FormatWAV:
		samples, rate, err := ParseWAV(a.Data)
		if err != nil {
			return nil, true, fmt.Errorf("%w: %v", ErrUnsupportedAudio, err)
		}
		if rate <= 0 {
			return nil, true, fmt.Errorf("%w: no sample rate", ErrUnsupportedAudio)
		}
		return ResampleAll(samples, rate, DetectorRate), true, nil
	}
	bin := ffmpegPath()
	if bin == "" {
		return nil, false, nil
	}
	f, err := os.CreateTemp("", "aitutor-upload-*."+a.Format)
	if err != nil {
		return nil, false, nil
	}
	defer os.Remove(f.Name())
	_, err = f.Write(a.Data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, decodeTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-nostdin", "-hide_banner", "-loglevel", "error",
		"-i", f.Name(), "-f", "s16le", "-ac", "1", "-ar", "16000", "pipe:1")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, true, fmt.Errorf("%w: %s", ErrUnsupportedAudio, lastClause(errOut.String(), 200))
		}
		return nil, false, nil
	}
	return DecodePCM16(nil, out.Bytes()[:out.Len()&^1]), true, nil
}
