package servertest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strconv"
	"testing"
)

// Recordings as browsers upload them, and a look inside audio files, with the real tools:
// espeak-ng speaks, ffmpeg encodes, ffprobe reads. A missing tool fails the test, saying how to
// install it (CI installs them; see .ci/run).

const mediaTools = "apt-get install espeak-ng ffmpeg"

// WebMRecording is text spoken by espeak-ng and encoded as MediaRecorder's
// "audio/webm;codecs=opus" output is: Opus at 48 kHz, mono, in a WebM stream written without
// seeking (no duration, no cues), as the prototype's recorder uploads it.
func WebMRecording(t testing.TB, text string) []byte {
	t.Helper()
	wav, err := exec.Command("espeak-ng", "-v", "en-us", "-s", "160", "--stdout", "--", text).Output()
	if err != nil {
		t.Fatalf("espeak-ng (install it with: %s): %v", mediaTools, err)
	}
	cmd := exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
		"-f", "wav", "-i", "pipe:0", "-ar", "48000", "-ac", "1", "-c:a", "libopus", "-b:a", "32k",
		"-f", "webm", "pipe:1")
	cmd.Stdin = bytes.NewReader(wav)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	webm, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg (install it with: %s): %v: %s", mediaTools, err, stderr.String())
	}
	if got := Probe(t, webm); got.Codec != "opus" || got.SampleRate != 48000 || got.Channels != 1 || !got.WebM() {
		t.Fatalf("ffmpeg made %+v, want mono 48 kHz Opus in WebM", got)
	}
	return webm
}

// AudioInfo is what ffprobe reads in a file: its container and its first audio stream.
type AudioInfo struct {
	Format     string // ffprobe's format_name, e.g. "matroska,webm" or "wav"
	Codec      string // e.g. "opus", "pcm_s16le"
	SampleRate int
	Channels   int
}

// WebM says whether the container is WebM (ffprobe names Matroska and WebM together).
func (a AudioInfo) WebM() bool { return a.Format == "matroska,webm" }

// Probe reads data with ffprobe; the test fails unless it is an audio file ffprobe can read.
func Probe(t testing.TB, data []byte) AudioInfo {
	t.Helper()
	cmd := exec.Command("ffprobe", "-v", "error", "-select_streams", "a:0",
		"-show_entries", "stream=codec_name,sample_rate,channels:format=format_name", "-of", "json", "pipe:0")
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe (install it with: %s) cannot read %d bytes: %v: %s", mediaTools, len(data), err, stderr.String())
	}
	var res struct {
		Streams []struct {
			CodecName  string `json:"codec_name"`
			SampleRate string `json:"sample_rate"`
			Channels   int    `json:"channels"`
		} `json:"streams"`
		Format struct {
			FormatName string `json:"format_name"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Streams) == 0 {
		t.Fatalf("ffprobe found no audio stream (%v): %s", err, out)
	}
	rate, _ := strconv.Atoi(res.Streams[0].SampleRate)
	return AudioInfo{Format: res.Format.FormatName, Codec: res.Streams[0].CodecName, SampleRate: rate, Channels: res.Streams[0].Channels}
}
