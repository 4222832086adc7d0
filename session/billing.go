package session

import (
	"context"
	"errors"
	"time"

	"github.com/aitutor/aitutor/store"
)

// The billing rule (README "Money and quotas"): a chat use pays for one answer the learner got.
//
//   - A turn is charged before anything is sent to the chat model or speech: a membership that
//     cannot pay never costs a chat completion or speech. A live spoken turn is charged beside
//     its transcription when the session's last count says the membership can pay, before it
//     otherwise: a membership that cannot pay costs at most one transcription per session (when
//     its last use went elsewhere since the session counted).
//   - On a live session the learner got the answer once they heard its first sentence in full,
//     by the server's model of their player (playback.go): the reply's audio plays in real time
//     from the moment it is written. A reply stopped (response.cancel), interrupted by the
//     learner's words, or cut by a lost connection before that point is refunded; after it, the
//     use stays spent and the turn is "interrupted". The interrupting utterance is a new turn,
//     charged by the same rule.
//   - So that nobody gets a full reply for free by cancelling early, the text never runs ahead of
//     the audio (a sentence's text is sent with its first audio frame), and until the first
//     sentence has been heard the audio is paced: the client holds at most paceLead of audio it
//     has not played.
//   - An upload-and-wait turn (REST) is answered when its answer is ready and the client is still
//     waiting for it; a client that went away is refunded.
//   - A provider failure refunds the turn, whatever was heard; so does speech in which no words
//     were recognised, and a turn stopped before it reached the chat model.
//   - Charges and refunds run outside the turn's cancellation, with their own time limits; the
//     turn and its settlement are written in one transaction (store.RecordTurn), and a
//     reconciler refunds what a crash or an outage left unsettled.

const (
	// paceLead is how far the audio may run ahead of the learner's player until the first
	// sentence has been heard: enough to ride out network jitter.
	paceLead = 1500 * time.Millisecond
	// settleMargin is added to the barge-in time when waiting to be sure that the first
	// sentence was heard: a barge-in is detected bargeInMs after the learner began to speak, plus
	// the gaps the detector allows.
	settleMargin = 300 * time.Millisecond
	// ledgerTimeout bounds one charge, refund or settlement.
	ledgerTimeout = 5 * time.Second
	// settleRetryFor is how long a settlement that the database refused is retried in the
	// background before the reconciler is left to do it.
	settleRetryFor = 2 * time.Minute
)

// Charge reasons (the ledger's reason of a charge): how the learner spoke.
const (
	ChannelVoice  = "voice"  // a spoken turn on a live session
	ChannelText   = "text"   // a typed turn on a live session
	ChannelUpload = "upload" // an upload-and-wait turn (POST /api/tutor/chat)
)

// Refund reasons (the ledger's reason of a refund).
const (
	RefundNotHeard      = "not_heard"      // stopped or interrupted before the first sentence was heard
	RefundDisconnected  = "disconnected"   // the connection closed before the answer was heard
	RefundProviderError = "provider_error" // a provider failed or timed out
	RefundNoSpeech      = "no_speech"      // no words were recognised
	RefundSTTFailed     = "stt_failed"     // the transcription failed
	RefundSuperseded    = "superseded"     // stopped before the chat model was asked
	RefundReconciled    = "reconciled"     // left unsettled by a crash or an outage
)

// ledgerContext is a context for a charge, refund or settlement: never cancelled by the turn
// (a barge-in must not orphan a charge), bounded in time.
func ledgerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), ledgerTimeout)
}

// charge takes the turn's use. It reports whether the turn may go on.
func (e *Tutor) charge(t *turn, sk sink) bool {
	return e.charged(t, sk, e.takeUse(t))
}

// chargeResult is what the ledger said to a charge.
type chargeResult struct {
	charge store.Charge
	err    error
}

// takeUse charges the turn's use in the ledger. It only talks to the store, so it may run beside
// the transcription (pipeline.go); charged applies its result on the turn's goroutine.
func (e *Tutor) takeUse(t *turn) chargeResult {
	ctx, cancel := ledgerContext(t.ctx)
	defer cancel()
	start := time.Now()
	c, err := e.store.ChargeChatUse(ctx, t.userID, t.membershipID, t.in.channel)
	e.metrics.stages.WithLabelValues(t.channel(), "charge").Observe(time.Since(start).Seconds())
	return chargeResult{c, err}
}

// charged applies a charge's result to the turn; a refused charge ends it.
func (e *Tutor) charged(t *turn, sk sink, r chargeResult) bool {
	if r.err != nil {
		if _, known := ProblemOf(r.err); !known {
			t.logger.Error("charge failed", "turn", t.id, "err", r.err)
		}
		sk.refused(t, r.err)
		return false
	}
	t.charge = &r.charge
	t.remaining = r.charge.Remaining
	return true
}

// refund gives the turn's use back at once (a turn that ends before answering).
func (e *Tutor) refund(t *turn, reason string) {
	if t.charge == nil {
		return
	}
	ctx, cancel := ledgerContext(t.ctx)
	defer cancel()
	remaining, err := e.store.RefundChatUse(ctx, t.charge.ID, reason)
	switch {
	case err == nil:
		t.remaining = remaining
		t.refunded = true
		e.metrics.settlements.WithLabelValues(store.OutcomeRefunded, reason).Inc()
	case errors.Is(err, store.ErrAlreadyRefunded):
		t.refunded = true
	default:
		// The reconciler refunds it once the database answers again.
		t.logger.Error("refund failed; the reconciler will settle it", "turn", t.id, "charge", t.charge.ID, "err", err)
		if t.remaining != nil {
			n := *t.remaining + 1
			t.remaining = &n
		}
		t.refunded = true
	}
}

// record stores a turn that answered and settles its charge with it. When the database cannot
// be reached, it retries in the background (bounded by settleRetryFor); what is still unsettled
// then is refunded by the reconciler.
func (e *Tutor) record(t *turn, rec store.TurnRecord) {
	ctx, cancel := ledgerContext(t.ctx)
	defer cancel()
	res, err := e.store.RecordTurn(ctx, rec)
	if err == nil {
		e.applySettlement(t, rec, res)
		return
	}
	t.logger.Warn("recording the turn failed; retrying in the background", "turn", t.id, "err", err)
	if rec.Outcome == store.OutcomeRefunded {
		t.refunded = true
		if t.remaining != nil {
			n := *t.remaining + 1
			t.remaining = &n
		}
	}
	e.background.Add(1)
	go func() {
		defer e.background.Done()
		deadline := time.Now().Add(settleRetryFor)
		for wait := 250 * time.Millisecond; time.Now().Before(deadline); wait = min(2*wait, 10*time.Second) {
			select {
			case <-time.After(wait):
			case <-e.stopping:
				return // the reconciler settles it
			}
			ctx, cancel := ledgerContext(context.Background())
			res, err := e.store.RecordTurn(ctx, rec)
			cancel()
			if err == nil {
				e.metrics.settlements.WithLabelValues(res.Outcome, rec.RefundReason).Inc()
				return
			}
		}
		t.logger.Error("recording the turn failed; the reconciler will settle its charge", "turn", t.id)
	}()
}

func (e *Tutor) applySettlement(t *turn, rec store.TurnRecord, res store.Settlement) {
	if rec.Message.ChargeID == nil {
		return
	}
	t.remaining = res.Remaining
	t.refunded = res.Outcome == store.OutcomeRefunded
	reason := ""
	if t.refunded {
		reason = rec.RefundReason
	}
	e.metrics.settlements.WithLabelValues(res.Outcome, reason).Inc()
}

// Reconcile refunds the charges made before olderThan that are still unsettled: turns that a
// crash, a killed process or a long database outage left without an answer or a refund. It
// returns how many it refunded. Run it at start-up and on a schedule, under the jobs' lock.
func (e *Tutor) Reconcile(ctx context.Context, olderThan time.Time) (int, error) {
	rec, ok := e.store.(Reconciler)
	if !ok {
		return 0, nil
	}
	n := 0
	for {
		batch, err := rec.UnsettledCharges(ctx, olderThan, 200)
		if err != nil {
			return n, err
		}
		for _, c := range batch {
			_, err := e.store.RefundChatUse(ctx, c.ID, RefundReconciled)
			switch {
			case err == nil:
				n++
				e.metrics.settlements.WithLabelValues(store.OutcomeRefunded, RefundReconciled).Inc()
			case errors.Is(err, store.ErrAlreadyRefunded), errors.Is(err, store.ErrAlreadySettled):
			default:
				return n, err
			}
		}
		if len(batch) < 200 {
			return n, nil
		}
	}
}

// Reconciler lists unsettled charges; *store.Store implements it.
type Reconciler interface {
	UnsettledCharges(ctx context.Context, before time.Time, limit int) ([]store.Unsettled, error)
}
