package session

import "github.com/prometheus/client_golang/prometheus"

// The turn engine's Prometheus metrics.
type tutorMetrics struct {
	stages             *prometheus.HistogramVec
	turns              *prometheus.CounterVec
	settlements        *prometheus.CounterVec
	falseInterruptions prometheus.Counter
	reviews            *prometheus.CounterVec
	sessions           prometheus.Gauge
	closes             *prometheus.CounterVec
	frames             prometheus.Counter
	speculative        *prometheus.CounterVec
	endOfTurn          *prometheus.CounterVec
}

func newTutorMetrics(reg prometheus.Registerer) *tutorMetrics {
	m := &tutorMetrics{
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aitutor_turn_stage_seconds",
			Help:    "Latency of each stage of a tutor turn (endpoint, stt, charge, chat_first_token, first_sentence, tts_first_byte, first_audio, total).",
			Buckets: []float64{.01, .025, .05, .1, .2, .3, .5, .75, 1, 1.5, 2, 3, 5, 8, 13, 20, 30},
		}, []string{"channel", "stage"}),
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aitutor_turns_total",
			Help: "Tutor turns that reached the chat model, by channel and outcome (done, interrupted, cancelled, failed).",
		}, []string{"channel", "status"}),
		settlements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aitutor_chat_settlements_total",
			Help: "Chat uses settled, by outcome (answered, refunded) and refund reason.",
		}, []string{"outcome", "reason"}),
		falseInterruptions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aitutor_false_interruptions_total",
			Help: "Replies that the learner's speech paused and that went on because it held no words.",
		}),
		reviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aitutor_reviews_total",
			Help: "Conversation reviews written (done) or abandoned with a refund (failed).",
		}, []string{"status"}),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "aitutor_sessions_active",
			Help: "Live WebSocket sessions.",
		}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aitutor_sessions_closed_total",
			Help: "Closed WebSocket sessions by close code.",
		}, []string{"code"}),
		frames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aitutor_audio_frames_total",
			Help: "Audio frames received from learners and run through turn detection.",
		}),
		speculative: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aitutor_speculative_calls_total",
			Help: "Provider calls made for speculative turns (speculate.go), by stage (stt, chat, tts) and outcome: used by the turn that committed, or wasted (the learner went on speaking, the session ended, the answer no longer fitted).",
		}, []string{"stage", "outcome"}),
		endOfTurn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aitutor_end_of_turn_total",
			Help: "Spoken turns by what ended them: complete (short silence after complete words), unfinished (long silence after an unfinished phrase), unknown (silenceMs, words unknown), silence (endOfTurn silence), limit (the 60 s cut), commit (input.commit).",
		}, []string{"verdict"}),
	}
	reg.MustRegister(m.stages, m.turns, m.settlements, m.falseInterruptions, m.reviews, m.sessions, m.closes, m.frames,
		m.speculative, m.endOfTurn)
	return m
}

// observe exports the turn's latencies and outcome.
func (e *Tutor) observe(t *turn) {
	ch := t.channel()
	e.metrics.turns.WithLabelValues(ch, t.status).Inc()
	m := t.metrics
	for stage, v := range map[string]*float64{
		"endpoint": m.EndpointMs, "stt": m.STTMs, "chat_first_token": m.ChatFirstTokenMs,
		"first_sentence": m.FirstSentenceMs, "tts_first_byte": m.TTSFirstByteMs,
		"first_audio": m.FirstAudioMs, "total": m.TotalMs,
	} {
		if v != nil {
			e.metrics.stages.WithLabelValues(ch, stage).Observe(*v / 1000)
		}
	}
}
