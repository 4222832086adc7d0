package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"time"
)

// Compressing stored replies: what encoding a real reply (a 24 kHz WAV as the server stores it)
// with ffmpeg would cost, one process per clip as the server would run it, against what it
// saves. The server stores WAV (see docs/DEPLOY.md); this item keeps the figures behind that
// choice measured.

// Compression is the cost and gain of encoding one stored reply.
type Compression struct {
	ReplyBytes   int                `json:"replyBytes"`
	ReplySeconds float64            `json:"replySeconds"`
	Codecs       []CompressionCodec `json:"codecs"`
}

// CompressionCodec is one encoding, averaged over runs.
type CompressionCodec struct {
	Name      string  `json:"name"`
	Mime      string  `json:"mime"`
	Bytes     int     `json:"bytes"`
	Ratio     float64 `json:"ratio"`        // WAV bytes / encoded bytes
	CPUMillis float64 `json:"cpuMsPerClip"` // user + system CPU of the ffmpeg process
	WallMs    float64 `json:"wallMsPerClip"`
}

var codecs = []struct {
	name, mime string
	args       []string
}{
	{"Opus 24 kbit/s in Ogg", "audio/ogg; codecs=opus", []string{"-c:a", "libopus", "-b:a", "24k", "-application", "voip", "-f", "ogg"}},
	{"Opus 24 kbit/s in WebM", "audio/webm; codecs=opus", []string{"-c:a", "libopus", "-b:a", "24k", "-application", "voip", "-f", "webm"}},
	{"MP3 32 kbit/s", "audio/mpeg", []string{"-c:a", "libmp3lame", "-b:a", "32k", "-f", "mp3"}},
}

func (e *env) compression(ctx context.Context, rep *Report) error {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return errors.New("needs ffmpeg")
	}
	ls, err := e.learners(ctx, 1)
	if err != nil {
		return err
	}
	c, err := e.dialManual(ctx, ls[0], 4096)
	if err != nil {
		return err
	}
	_, done, err := e.spokenTurn(ctx, c)
	c.Close()
	if err != nil {
		return err
	}
	var wav []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := e.http.Get(e.cfg.URL + done.AudioURL)
		if err != nil {
			return err
		}
		wav, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the reply %s: HTTP %d", done.AudioURL, resp.StatusCode)
		}
	}
	out := &Compression{ReplyBytes: len(wav), ReplySeconds: float64(len(wav)-44) / 2 / 24000}
	const runs = 5
	for _, codec := range codecs {
		cc := CompressionCodec{Name: codec.name, Mime: codec.mime}
		for i := 0; i < runs; i++ {
			args := append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-f", "wav", "-i", "pipe:0"}, codec.args...)
			cmd := exec.CommandContext(ctx, ffmpeg, append(args, "pipe:1")...)
			cmd.Stdin = bytes.NewReader(wav)
			var enc, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &enc, &stderr
			start := time.Now()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("ffmpeg %s: %v: %s", codec.name, err, stderr.String())
			}
			cc.WallMs += float64(time.Since(start).Microseconds()) / 1000 / runs
			cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			cc.CPUMillis += float64(cpu.Microseconds()) / 1000 / runs
			cc.Bytes = enc.Len()
		}
		cc.Ratio = float64(len(wav)) / float64(cc.Bytes)
		out.Codecs = append(out.Codecs, cc)
	}
	rep.Compression = out
	return nil
}
