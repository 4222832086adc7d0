package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/aitutor/aitutor/store"
)

// Reviews is the latency of conversation reviews (POST /api/conversations/{id}/review) with the
// simulator's profile: each review is of a conversation of eight turns, one at a time, then a
// batch of concurrent ones.
type Reviews struct {
	Sequential Stats `json:"sequential"`
	Concurrent Stats `json:"concurrent"`
	Parallel   int   `json:"parallel"`
	// Repeat is the latency of asking again for an unchanged conversation (the stored review).
	Repeat Stats `json:"repeat"`
}

const reviewTurns = 8

var reviewLines = []string{
	"Yesterday I go to the market with my sister.", "We buyed some apples and a big cake.",
	"The weather was very good, so we walk home.", "I think is important to eat fruit every day.",
	"My sister don't like cake but I love it.", "Tomorrow I will cook a dinner for my family.",
	"Can you explain me how to make a soup?", "I am agree that cooking is fun.",
}

func (e *env) reviews(ctx context.Context, rep *Report) error {
	const sequential, parallel = 20, 20
	ls, err := e.learners(ctx, 1)
	if err != nil {
		return err
	}
	l := ls[0]
	convs := make([]string, sequential+parallel)
	for i := range convs {
		c, err := e.store.CreateConversation(ctx, l.user.ID, l.membership, "ws", "intermediate", "")
		if err != nil {
			return err
		}
		for j := 0; j < reviewTurns; j++ {
			speech := &store.SpeechStats{UtteranceMs: 2400 + 100*j, VoicedMs: 2000, PausesMs: []int{400}, TutorMs: 3000}
			if err := e.store.AddMessage(ctx, &store.Message{ConversationID: c.ID, TurnID: fmt.Sprintf("turn_%02d", j),
				UserText: reviewLines[j], TutorText: "That sounds nice. Tell me more.", Status: store.TurnDone, Speech: speech}); err != nil {
				return err
			}
		}
		convs[i] = c.ID
	}
	review := func(conv string, want int) (time.Duration, error) {
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.URL+"/api/conversations/"+conv+"/review", nil)
		req.Header.Set("Authorization", "Bearer "+l.token)
		resp, err := e.http.Do(req)
		if err != nil {
			return 0, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return 0, fmt.Errorf("review: HTTP %d: %s", resp.StatusCode, body)
		}
		return time.Since(start), nil
	}
	out := &Reviews{Parallel: parallel}
	var seq, again []time.Duration
	for _, c := range convs[:sequential] {
		d, err := review(c, http.StatusCreated)
		if err != nil {
			return err
		}
		seq = append(seq, d)
		if d, err = review(c, http.StatusOK); err != nil {
			return err
		}
		again = append(again, d)
	}
	conc := make([]time.Duration, parallel)
	errs := make(chan error, parallel)
	done := make(chan struct{})
	for i, c := range convs[sequential:] {
		go func(i int, c string) {
			d, err := review(c, http.StatusCreated)
			conc[i] = d
			errs <- err
		}(i, c)
	}
	go func() {
		defer close(done)
		for range parallel {
			if err := <-errs; err != nil && ctx.Err() == nil {
				e.cfg.Logger.Error("concurrent review", "err", err)
			}
		}
	}()
	<-done
	sort.Slice(conc, func(i, j int) bool { return conc[i] < conc[j] })
	out.Sequential, out.Concurrent, out.Repeat = summarize(seq), summarize(conc), summarize(again)
	rep.Reviews = out
	return nil
}
