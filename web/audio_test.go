package web_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/aitutor/aitutor/web"
)

// TestAudioModules runs the tutor's audio modules in the browser: the capture worklet's
// resampling to 16 kHz frames, gap-free scheduling and stopping in the player, and the echo
// guard's decisions. Only the static files are needed.
func TestAudioModules(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	t.Cleanup(srv.Close)
	tb := newTab(t, newBrowser(t, writeMicWAV(t, "silence.wav", silence(time.Second)), false), srv.URL, "audio")
	tb.do("open", chromedp.Navigate(srv.URL+"/"))

	t.Run("the capture worklet sends 20 ms frames of 16 kHz PCM", func(t *testing.T) {
		// A 440 Hz tone at amplitude 0.5 through the worklet, at the context's own rate.
		res := evalJS[struct {
			Frames, Samples int
			RMS, Hz         float64
			Rate            int
		}](tb, `(async () => {
			const ctx = new AudioContext();
			await ctx.audioWorklet.addModule("/js/tutor/capture-worklet.js");
			const node = new AudioWorkletNode(ctx, "pcm-capture", {numberOfOutputs: 0, processorOptions: {targetRate: 16000, frameSamples: 320}});
			const frames = [];
			node.port.onmessage = (e) => frames.push(e.data);
			const osc = new OscillatorNode(ctx, {frequency: 440});
			const gain = new GainNode(ctx, {gain: 0.5});
			osc.connect(gain).connect(node);
			await ctx.resume();
			osc.start();
			await new Promise((r) => setTimeout(r, 600));
			osc.stop();
			await ctx.close();
			const pcm = frames.slice(5).flatMap((f) => Array.from(f.pcm));
			let crossings = 0;
			for (let i = 1; i < pcm.length; i++) if ((pcm[i - 1] < 0) !== (pcm[i] < 0)) crossings++;
			const rms = frames.slice(5).reduce((s, f) => s + f.rms, 0) / (frames.length - 5);
			return {frames: frames.length, samples: frames[0].pcm.length, rms, hz: crossings / 2 / (pcm.length / 16000), rate: ctx.sampleRate};
		})()`)
		if res.Samples != 320 || res.Frames < 15 {
			t.Errorf("%d frames of %d samples in 0.6 s, want about 30 of 320", res.Frames, res.Samples)
		}
		if res.RMS < 0.33 || res.RMS > 0.38 {
			t.Errorf("RMS %.3f, want 0.354 (a sine of amplitude 0.5)", res.RMS)
		}
		if res.Hz < 430 || res.Hz > 450 {
			t.Errorf("the tone reads as %.1f Hz at 16 kHz (context at %d Hz), want 440", res.Hz, res.Rate)
		}
	})

	t.Run("the player schedules chunks back to back and stops at once", func(t *testing.T) {
		res := evalJS[struct {
			Gaps        []float64
			HeardBefore int
			HeardAtStop int
			Playing     bool
			Dropped     bool
			Levels      float64
			Parsed      int
		}](tb, `(async () => {
			const { Player, pcmFromBytes } = await import("/js/tutor/playback.js");
			const { parseWav } = await import("/js/tutor/wav.js");
			const ctx = new AudioContext();
			await ctx.resume();
			const player = new Player(ctx);
			const chunk = new Int16Array(2400); // 100 ms at 24 kHz
			for (let i = 0; i < chunk.length; i++) chunk[i] = Math.round(Math.sin(i / 8) * 8000);
			for (let i = 0; i < 20; i++) player.enqueue("t1", pcmFromBytes(chunk.buffer.slice(0)));
			const starts = player.clips.get("t1").chunks.map((c) => c.start);
			const gaps = starts.slice(1).map((s, i) => Math.round((s - starts[i] - 0.1) * 1e6) / 1e6);
			await new Promise((r) => setTimeout(r, 400));
			const heardBefore = player.heardMs("t1");
			const levels = player.level();
			const heard = player.stop()["t1"];
			const playing = player.playing;
			const dropped = !player.enqueue("t1", chunk);
			// A 16-bit mono WAV as the server stores replies.
			const wav = new ArrayBuffer(44 + 8);
			const v = new DataView(wav);
			[..."RIFF"].forEach((c, i) => v.setUint8(i, c.charCodeAt(0)));
			v.setUint32(4, 44, true);
			[..."WAVEfmt "].forEach((c, i) => v.setUint8(8 + i, c.charCodeAt(0)));
			v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
			v.setUint32(24, 24000, true); v.setUint32(28, 48000, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
			[..."data"].forEach((c, i) => v.setUint8(36 + i, c.charCodeAt(0)));
			v.setUint32(40, 8, true);
			v.setInt16(44, -2, true);
			const parsed = parseWav(wav);
			await ctx.close();
			return {gaps, heardBefore, heardAtStop: heard, playing, dropped, levels, parsed: parsed.rate + parsed.pcm[0]};
		})()`)
		for i, g := range res.Gaps {
			if g != 0 {
				t.Errorf("chunk %d starts %.6f s off the end of the previous one", i+1, g)
			}
		}
		if res.HeardBefore < 150 || res.HeardBefore > 500 || res.HeardAtStop < res.HeardBefore || res.HeardAtStop > res.HeardBefore+100 {
			t.Errorf("heard %d ms after 400 ms and %d ms at the stop", res.HeardBefore, res.HeardAtStop)
		}
		if res.Playing || !res.Dropped {
			t.Errorf("after stop: playing %v, late audio dropped %v", res.Playing, res.Dropped)
		}
		if res.Levels < 0.15 || res.Levels > 0.2 {
			t.Errorf("playback level %.3f, want the chunk's RMS (0.173)", res.Levels)
		}
		if res.Parsed != 24000-2 {
			t.Errorf("parseWav: rate + first sample = %d", res.Parsed)
		}
	})

	t.Run("the echo guard keeps the tutor's echo from the server and lets the learner through", func(t *testing.T) {
		res := evalJS[map[string]int](tb, `(async () => {
			const { EchoGuard } = await import("/js/tutor/echoguard.js");
			const run = (g, n, mic, play) => { let admitted = 0; for (let i = 0; i < n; i++) if (g.admit(mic, play)) admitted++; return admitted; };
			const g = new EchoGuard();
			const out = {};
			out.quietTutor = run(g, 50, 0.05, 0);       // the tutor is silent: everything goes out
			out.echo = run(g, 150, 0.04, 0.1);          // its echo (coupling 0.4): nothing goes out
			out.speech = run(g, 30, 0.3, 0.1);          // the learner talks over it: everything
			out.tail = run(g, 17, 0.04, 0.1);           // the hangover keeps the end of the words
			out.echoAgain = run(g, 50, 0.04, 0.1);      // then the echo is held back again
			const loud = new EchoGuard();               // loud speakers (coupling 1.5): learned
			run(loud, 250, 0.15, 0.1);
			out.loudLater = run(loud, 50, 0.15, 0.1);
			out.loudSpeech = run(loud, 20, 0.6, 0.1);
			return out;
		})()`)
		want := map[string]int{"quietTutor": 50, "echo": 0, "speech": 30, "tail": 17, "echoAgain": 0, "loudLater": 0, "loudSpeech": 20}
		for k, v := range want {
			if res[k] != v {
				t.Errorf("%s: %d frames admitted, want %d (all: %v)", k, res[k], v, res)
			}
		}
	})
}
