package offline

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/aitutor/aitutor/session"
)

// Per-turn cost of each engine. The STT figure depends on the build:
//
//	go test -run '^$' -bench . -benchtime 20x ./session/offline/                    # per-turn process
//	go test -tags pocketsphinx -run '^$' -bench . -benchtime 20x ./session/offline/ # cgo decoder pool

// BenchmarkSTT transcribes a 3 s utterance (one sentence and its trailing silence), as a turn
// does.
func BenchmarkSTT(b *testing.B) {
	e := newEngines(b, Config{})
	s := learnerSentences[0]
	pcm, _ := speak(b, s.text, testVoice, testSpeed, sttRate)
	utterance := make([]int16, 3*sttRate)
	copy(utterance, pcm)
	audio := session.Audio{Data: session.EncodePCM16(nil, utterance), Format: session.FormatPCM16, SampleRate: sttRate}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		text, err := e.stt.Transcribe(context.Background(), audio)
		if err != nil {
			b.Fatal(err)
		}
		if missing := missingWords(text, s.keys); len(missing) > 0 {
			b.Fatalf("recognised %q: missing %v", text, missing)
		}
	}
}

// BenchmarkTTS synthesizes one sentence of a reply: ns/op is the whole sentence, ms-first-byte
// the time until its first audio.
func BenchmarkTTS(b *testing.B) {
	e := newEngines(b, Config{})
	const sentence = "That sounds like a lovely weekend, so what did you enjoy most about it?"
	buf := make([]byte, 4096)
	var first time.Duration
	var audio int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		rc, err := e.tts.Synthesize(context.Background(), sentence, "nova")
		if err != nil {
			b.Fatal(err)
		}
		n, err := rc.Read(buf)
		if err != nil || n == 0 {
			b.Fatalf("first read: %d, %v", n, err)
		}
		first += time.Since(start)
		rest, err := io.Copy(io.Discard, rc)
		if err != nil {
			b.Fatal(err)
		}
		rc.Close()
		audio += n + int(rest)
	}
	b.ReportMetric(float64(first.Microseconds())/1000/float64(b.N), "ms-first-byte")
	b.ReportMetric(float64(audio)/2/session.OutputSampleRate/float64(b.N), "audio-s/op")
}

// BenchmarkTutorReply writes and streams one scripted reply without the model-like pacing.
func BenchmarkTutorReply(b *testing.B) {
	tutor := &scriptedTutor{firstDelay: -1, delay: -1}
	req := chat("intermediate", "travel", []string{"hello", "I like trains"}, "I am agree, he go to London by train every summer")
	b.ReportAllocs()
	for b.Loop() {
		stream, err := tutor.StreamChat(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := stream.Recv(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		stream.Close()
	}
}
