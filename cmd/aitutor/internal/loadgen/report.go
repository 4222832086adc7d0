package loadgen

import (
	"fmt"
	"strings"
	"time"
)

func ms(v Millis) string { return fmt.Sprintf("%.1f", float64(v)) }

func kib(bytes float64) string { return fmt.Sprintf("%.1f KiB", bytes/1024) }

// Markdown renders the report for docs/BENCHMARKS.md; command is how it was produced.
func (r *Report) Markdown(command string) string {
	var b strings.Builder
	p := r.Profile
	fmt.Fprintf(&b, "Simulator profile %q: transcription %v; chat first token %v, then %v a token; "+
		"TTS first byte %v, then audio at %gx real time. The benchmark reply's first sentence is %d tokens, so the "+
		"**provider limit** of a streamed turn (transcription + first token + the first sentence's tokens + TTS first byte) is **%s ms**.\n\n",
		p.Name, p.STT, p.ChatFirstToken, p.ChatPerToken, p.TTSFirstByte, p.TTSSpeed, r.FirstSentence, ms(r.ProviderLimit))
	fmt.Fprintf(&b, "Command: `%s`\n\n", command)

	if m := r.Memory; m != nil {
		b.WriteString("### Memory per session\n\n")
		b.WriteString("Measured first, on a fresh server. Resident set (from /proc) and Go memory (heap in use + goroutine " +
			"stacks, from the runtime), after a forced garbage collection, divided by the number of sessions. Talking " +
			"sessions are measured while every reply streams (each holds its reply's audio until the turn is stored).\n\n")
		b.WriteString(markdownTable([]string{"sessions", "RSS per session", "Go heap + stacks per session", "target"}, [][]string{
			{fmt.Sprintf("%d idle", m.IdleSessions), kib(m.IdleRSSPerSession), kib(m.IdleGoPerSession), "≤ 12 KiB"},
			{fmt.Sprintf("%d talking", m.TalkingSessions), kib(m.TalkingRSSPerSession), kib(m.TalkingGoPerSession), ""},
		}))
		b.WriteString("\n")
	}
	if fa := r.FirstAudio; fa != nil {
		b.WriteString("### First audio: streamed vs upload-and-wait\n\n")
		fmt.Fprintf(&b, "The same 1.2 s utterance, %d times each way, one learner. Streamed: `GET /api/tutor/ws`, from `input.commit` (end of speech) "+
			"to the first reply audio frame at the client. Upload-and-wait: `POST /api/tutor/chat` with the utterance as WAV, then `GET ttsUrl`, "+
			"from the start of the upload to the first audio byte at the client.\n\n", fa.Streamed.N)
		b.WriteString(markdownTable([]string{"path", "p50 ms", "p95 ms", "max ms"}, [][]string{
			{"streamed (protocol v1)", ms(fa.Streamed.P50), ms(fa.Streamed.P95), ms(fa.Streamed.Max)},
			{"upload-and-wait (REST, this server)", ms(fa.UploadWait.P50), ms(fa.UploadWait.P95), ms(fa.UploadWait.Max)},
			{"provider limit of a streamed turn", ms(r.ProviderLimit), "", ""},
			{"the prototype's flow (whole reply synthesized first), modelled", ms(fa.Prototype), "", ""},
			{"streamed, firstAudioMs as the server reports it", ms(fa.ServerFirst.P50), ms(fa.ServerFirst.P95), ms(fa.ServerFirst.Max)},
		}))
		fmt.Fprintf(&b, "\nUpload-and-wait p50 / streamed p50 = **%.1f×**; streamed p50 is %s ms above the provider limit.\n\n",
			fa.Ratio, ms(fa.Streamed.P50-r.ProviderLimit))
		if len(fa.Stages) > 0 {
			b.WriteString("Stage latencies of the streamed turns as the server measured them, against what the profile sets:\n\n")
			b.WriteString(r.stageTable(fa.Stages))
		}
	}
	if o := r.Overhead; o != nil {
		b.WriteString("### Server overhead above the providers\n\n")
		b.WriteString("First audio at the client minus the provider limit. It includes everything that is not the simulator's own " +
			"waiting: the server's work, the simulator's HTTP handling and timer slack, loopback networking and the load generator.\n\n")
		b.WriteString(markdownTable([]string{"load", "turns", "p50 ms", "p95 ms", "p99 ms", "max ms", "target"}, [][]string{
			{"1 session", fmt.Sprint(o.Single.N), ms(o.Single.P50), ms(o.Single.P95), ms(o.Single.P99), ms(o.Single.Max), "p50 ≤ 2, p99 ≤ 10"},
			{fmt.Sprintf("%d concurrent talking sessions", o.Sessions), fmt.Sprint(o.Concurrent.N), ms(o.Concurrent.P50), ms(o.Concurrent.P95), ms(o.Concurrent.P99), ms(o.Concurrent.Max), "p99 ≤ 20"},
		}))
		fmt.Fprintf(&b, "\nServer CPU during the concurrent run: %.2f cores. Failed turns: %d.\n\n", o.ServerCPU, o.Failed)
		if len(o.Stages) > 0 {
			b.WriteString("Stage latencies of the concurrent turns as the server measured them (`response.done` metrics), against what the profile sets:\n\n")
			b.WriteString(r.stageTable(o.Stages))
		}
	}
	if o := r.OverheadS3; o != nil {
		b.WriteString("### Server overhead with the audio in the object store (AUDIO_STORE=s3)\n\n")
		b.WriteString("The concurrent run above against a second server on the same database whose stored audio goes to an " +
			"S3-compatible object store (SeaweedFS `weed server -s3`, on the same machine): each turn's two clips are put there " +
			"after the turn is settled, off the path of the next turn.\n\n")
		b.WriteString(markdownTable([]string{"load", "turns", "p50 ms", "p95 ms", "p99 ms", "max ms", "target"}, [][]string{
			{fmt.Sprintf("%d concurrent talking sessions, AUDIO_STORE=s3", o.Sessions), fmt.Sprint(o.Concurrent.N), ms(o.Concurrent.P50), ms(o.Concurrent.P95), ms(o.Concurrent.P99), ms(o.Concurrent.Max), "p99 ≤ 20"},
		}))
		fmt.Fprintf(&b, "\nServer CPU during the run: %.2f cores (the object store's own CPU not included). Failed turns: %d.\n\n", o.ServerCPU, o.Failed)
		if len(o.Stages) > 0 {
			b.WriteString("Stage latencies of these turns as the server measured them:\n\n")
			b.WriteString(r.stageTable(o.Stages))
		}
	}
	if w := r.AudioWrites; w != nil {
		b.WriteString("### PostgreSQL bytes written per turn\n\n")
		fmt.Fprintf(&b, "%d sessions talking at once, %d spoken turns with each home for the audio, one after the other on the same "+
			"database; each turn stores the learner's recording (16 kHz WAV) and the reply (24 kHz WAV). *WAL* is the growth of "+
			"`pg_current_wal_lsn()` (everything the turns wrote: charges, settlements, messages, clips, and the sessions' registry), "+
			"*audio_clips* the growth of that table with its TOAST and indexes; *transactions* are those committed in the database "+
			"(`pg_stat_database`), the load generator's own reads left out.\n\n", w.Sessions, w.Turns)
		row := func(name string, f AudioWriteFigure) []string {
			return []string{name, kib(f.WALBytes), kib(f.TableBytes), kib(f.ObjectBytes), kib(f.ClipBytes), fmt.Sprintf("%.1f", f.Transactions)}
		}
		b.WriteString(markdownTable([]string{"AUDIO_STORE", "WAL per turn", "audio_clips per turn", "object store per turn", "clips per turn", "transactions per turn"}, [][]string{
			row("postgres", w.Postgres), row("s3", w.S3),
		}))
		if w.S3.WALBytes > 0 {
			fmt.Fprintf(&b, "\nPostgreSQL writes %.0f× less per turn with the audio in the object store.\n\n", w.Postgres.WALBytes/w.S3.WALBytes)
		}
	}
	if c := r.Compression; c != nil {
		b.WriteString("### Compressing stored replies\n\n")
		fmt.Fprintf(&b, "A reply as the server stores it (%.1f s of 24 kHz 16-bit mono WAV, %s), encoded by ffmpeg as the server would "+
			"run it: one process per clip, the WAV on stdin. CPU is the ffmpeg process's user + system time, averaged over 5 runs. "+
			"The server stores WAV: see docs/DEPLOY.md for why.\n\n", c.ReplySeconds, kib(float64(c.ReplyBytes)))
		rows := [][]string{}
		for _, cc := range c.Codecs {
			rows = append(rows, []string{cc.Name, "`" + cc.Mime + "`", kib(float64(cc.Bytes)), fmt.Sprintf("%.1f×", cc.Ratio), fmt.Sprintf("%.0f", cc.CPUMillis), fmt.Sprintf("%.0f", cc.WallMs)})
		}
		b.WriteString(markdownTable([]string{"encoding", "media type", "size", "smaller by", "CPU ms per clip", "wall ms per clip"}, rows))
		b.WriteString("\n")
	}
	if c := r.Capacity; c != nil {
		b.WriteString("### Capacity: sessions streaming real-time microphone audio\n\n")
		b.WriteString("Each session sends 16 kHz PCM in 20 ms frames in real time (quiet room noise, which turn detection must " +
			"ignore). *Frame handling* is the round trip of a WebSocket ping that each session sends once a second behind its " +
			"audio frames: the server's reader answers it after handling every frame before it. A step passes with frame " +
			"handling p99 under 10 ms and every frame sent handled (`aitutor_audio_frames_total`).\n\n")
		rows := [][]string{}
		for _, s := range c.Steps {
			pass := "yes"
			if !s.Pass {
				pass = "no"
			}
			if s.GeneratorLimits {
				pass += " (generator late)"
			}
			rows = append(rows, []string{fmt.Sprint(s.Sessions), ms(s.Handling.P50), ms(s.Handling.P99), fmt.Sprint(s.FramesSent), fmt.Sprint(s.FramesHandled),
				fmt.Sprintf("%.2f", s.ServerCores), fmt.Sprintf("%.3f", s.CoresPer100), ms(s.SendLag.P99), pass})
		}
		b.WriteString(markdownTable([]string{"sessions", "handling p50 ms", "handling p99 ms", "frames sent", "frames handled", "server cores", "cores / 100 sessions", "generator lag p99 ms", "pass"}, rows))
		fmt.Fprintf(&b, "\nMost sessions held: **%d** (target ≥ 1,000 at ≤ 0.1 core per 100 sessions).\n\n", c.Max)
	}
	if v := r.VoiceToVoice; v != nil {
		b.WriteString("### Voice to voice\n\n")
		fmt.Fprintf(&b, "From the last speech sample the client sends to the first reply audio frame it receives: server turn detection "+
			"(`endOfTurn` smart), 20 ms frames at real-time pace, one learner, %d utterances in tone speech the simulator hears word for "+
			"word: complete sentences and questions, and sentences with a %.1f s pause after an unfinished phrase (\"I would like to … "+
			"order a coffee with milk\").\n\n", v.Utterances, v2vPause.Seconds())
		b.WriteString(markdownTable([]string{"utterances", "n", "p50 ms", "p95 ms", "max ms"}, [][]string{
			{"complete", fmt.Sprint(v.Complete.N), ms(v.Complete.P50), ms(v.Complete.P95), ms(v.Complete.Max)},
			{"with a pause after an unfinished phrase", fmt.Sprint(v.Hesitant.N), ms(v.Hesitant.P50), ms(v.Hesitant.P95), ms(v.Hesitant.Max)},
			{"all", fmt.Sprint(v.All.N), ms(v.All.P50), ms(v.All.P95), ms(v.All.Max)},
			{"first audio after the turn ended (speech.stopped)", fmt.Sprint(v.AfterEnd.N), ms(v.AfterEnd.P50), ms(v.AfterEnd.P95), ms(v.AfterEnd.Max)},
			{"silence that ended the turn (endpointMs)", fmt.Sprint(v.Endpoint.N), ms(v.Endpoint.P50), ms(v.Endpoint.P95), ms(v.Endpoint.Max)},
		}))
		fmt.Fprintf(&b, "\nUtterances split into two turns: **%d** of %d (target: none). Speculative chat calls: %.0f used, %.0f wasted "+
			"(**%.0f %%** wasted; target ≤ 25 %%); speculative transcriptions: %.0f used, %.0f wasted. Target: voice to voice p50 ≤ 1,200 ms.\n\n",
			v.Split, v.Utterances, v.ChatUsed, v.ChatWasted, 100*v.WastedChatShare(), v.STTUsed, v.STTWasted)
	}
	if cl := r.Cluster; cl != nil {
		b.WriteString("### Several instances\n\n")
		fmt.Fprintf(&b, "%d instances on one PostgreSQL behind HAProxy (Debian's), %d learners talking through it for %.0f s (spoken turns, "+
			"manual commit, 0.5 s between turns); halfway one instance is restarted as a deploy does (SIGTERM: its sessions drain and "+
			"close with 1001, it starts again) and its learners reconnect with their conversation.\n\n",
			cl.Instances, cl.Learners, cl.Window.Seconds())
		per := make([]string, len(cl.TurnsPerInstance))
		for i, n := range cl.TurnsPerInstance {
			per[i] = fmt.Sprintf("%.0f", n)
		}
		b.WriteString(markdownTable([]string{"answered turns", "per instance (its /metrics)", "commit → response.done p50 ms", "p95 ms", "moved by the restart", "resumed", "restart took", "ledger mismatches", "unsettled charges"}, [][]string{{
			fmt.Sprint(cl.Answered), strings.Join(per, " / "), ms(cl.Turn.P50), ms(cl.Turn.P95), fmt.Sprint(cl.Moved), fmt.Sprint(cl.Resumed),
			fmt.Sprintf("%.1f s", cl.Restart.Seconds()), fmt.Sprint(cl.LedgerMismatches), fmt.Sprint(cl.Unsettled),
		}}))
		b.WriteString("\nTarget: turns on every instance, every moved learner resumed, no ledger mismatch and nothing unsettled. (The " +
			"restarted instance's count misses the turns it finished while draining: its counters start again.)\n\n")
	}
	if rt := r.Realtime; rt != nil {
		b.WriteString("### First audio through /v1/realtime\n\n")
		b.WriteString("The same utterance through the OpenAI-Realtime-compatible endpoint (24 kHz PCM in base64 `input_audio_buffer.append` " +
			"events, `input_audio_buffer.commit` and `response.create` with turn detection off) and through protocol v1 (binary 16 kHz " +
			"frames, `input.commit`), turns interleaved on one learner. From the commit to the first reply audio.\n\n")
		b.WriteString(markdownTable([]string{"path", "n", "p50 ms", "p95 ms", "max ms"}, [][]string{
			{"/v1/realtime", fmt.Sprint(rt.Realtime.N), ms(rt.Realtime.P50), ms(rt.Realtime.P95), ms(rt.Realtime.Max)},
			{"protocol v1", fmt.Sprint(rt.V1.N), ms(rt.V1.P50), ms(rt.V1.P95), ms(rt.V1.Max)},
		}))
		fmt.Fprintf(&b, "\nDifference at p50: **%s ms** (target: within 2 ms of protocol v1).\n\n", ms(rt.DeltaP50))
	}
	if rv := r.Reviews; rv != nil {
		b.WriteString("### Conversation reviews\n\n")
		fmt.Fprintf(&b, "`POST /api/conversations/{id}/review` of a conversation of %d turns, with the simulator writing the review "+
			"(a JSON-schema structured output; its latency is the profile's first token plus its tokens), validated, stored with "+
			"its analysis use's settlement and folded into the learner's profile. One at a time, then %d at once; and asked again "+
			"for the unchanged conversation (the stored review, nothing charged).\n\n", reviewTurns, rv.Parallel)
		b.WriteString(markdownTable([]string{"reviews", "n", "p50 ms", "p95 ms", "max ms"}, [][]string{
			{"one at a time", fmt.Sprint(rv.Sequential.N), ms(rv.Sequential.P50), ms(rv.Sequential.P95), ms(rv.Sequential.Max)},
			{fmt.Sprintf("%d at once", rv.Parallel), fmt.Sprint(rv.Concurrent.N), ms(rv.Concurrent.P50), ms(rv.Concurrent.P95), ms(rv.Concurrent.Max)},
			{"unchanged conversation (stored)", fmt.Sprint(rv.Repeat.N), ms(rv.Repeat.P50), ms(rv.Repeat.P95), ms(rv.Repeat.Max)},
		}))
		b.WriteString("\n")
	}
	if len(r.REST) > 0 {
		b.WriteString("### REST\n\n")
		rows := [][]string{}
		for _, x := range r.REST {
			rows = append(rows, []string{x.Name, fmt.Sprint(x.Concurrency), fmt.Sprintf("%.0f", x.RPS), ms(x.P50), ms(x.P99), fmt.Sprint(x.Errors), x.Tool})
		}
		b.WriteString(markdownTable([]string{"operation", "clients", "requests/s", "p50 ms", "p99 ms", "errors", "measured with"}, rows))
		for _, x := range r.REST {
			if x.Tool == "wrk" {
				fmt.Fprintf(&b, "\n`%s`", x.Command)
			}
		}
		b.WriteString("\n\nTarget: ≥ 4,000 requests/s (10× the prototype's ~400) with p99 ≤ 50 ms.\n\n")
	}
	return b.String()
}

// stageTable compares measured stage latencies with what the profile sets.
func (r *Report) stageTable(stages map[string]Stats) string {
	p := r.Profile
	rows := [][]string{}
	for _, st := range []struct {
		name string
		set  time.Duration
	}{
		{"sttMs", p.STT}, {"chatFirstTokenMs", p.ChatFirstToken},
		{"firstSentenceMs", p.ChatFirstToken + time.Duration(r.FirstSentence-1)*p.ChatPerToken},
		{"ttsFirstByteMs", p.TTSFirstByte}, {"firstAudioMs", time.Duration(float64(r.ProviderLimit) * float64(time.Millisecond))},
	} {
		x := stages[st.name]
		rows = append(rows, []string{st.name, ms(millis(st.set)), ms(x.P50), ms(x.P99), ms(x.Max)})
	}
	return markdownTable([]string{"stage", "profile ms", "p50 ms", "p99 ms", "max ms"}, rows) + "\n"
}
