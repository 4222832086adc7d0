package offline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"time"

	"github.com/aitutor/aitutor/session"
)

// Uploads in other containers (webm, ogg, mp3, m4a, flac) are decoded with ffmpeg when it is
// installed. The upload goes through a temporary file: m4a keeps its index at the end, which
// ffmpeg cannot read from a pipe.

var extRe = regexp.MustCompile(`^[a-z0-9]{1,8}$`)

// decodeWithFFmpeg returns data (a file of the given format) as 16 kHz mono samples.
func decodeWithFFmpeg(ctx context.Context, ffmpeg, format string, data []byte) ([]int16, error) {
	ext := format
	if !extRe.MatchString(ext) {
		ext = "bin"
	}
	f, err := os.CreateTemp("", "aitutor-upload-*."+ext)
	if err != nil {
		return nil, fmt.Errorf("offline: stt: %w: %w", session.ErrProvider, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("offline: stt: writing %s: %w: %w", f.Name(), session.ErrProvider, err)
	}
	cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
		"-i", f.Name(), "-vn", "-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", "16000", "pipe:1")
	var stdout bytes.Buffer
	stderr := &limitedBuffer{max: 512}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("offline: stt: ffmpeg could not decode the %q audio: %w: %w: %s", format, session.ErrUnsupportedAudio, err, stderr.String())
	}
	b := stdout.Bytes()
	return session.DecodePCM16(nil, b[:len(b)&^1]), nil
}
