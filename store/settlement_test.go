package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aitutor/aitutor/store"
)

// Every charge is settled exactly once: answered or refunded, never both, never twice.

func TestAnswerAndRefundRaceSettleOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, intp(50))
	m := f.buy(t)
	ctx := context.Background()
	conv, err := f.s.CreateConversation(ctx, f.user.ID, m.ID, "ws", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		c, err := f.s.ChargeChatUse(ctx, f.user.ID, m.ID, "voice")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var answered, refunded int
		var mu sync.Mutex
		for j := 0; j < 6; j++ {
			wg.Add(1)
			go func(j int) {
				defer wg.Done()
				if j%2 == 0 {
					id := c.ID
					res, err := f.s.RecordTurn(ctx, store.TurnRecord{
						Message: store.Message{ConversationID: conv.ID, TurnID: "turn_" + string(rune('a'+i)), UserText: "hi", Status: store.TurnDone, ChargeID: &id},
						Outcome: store.OutcomeAnswered,
					})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if res.Outcome == store.OutcomeAnswered {
						answered++
					}
					mu.Unlock()
					return
				}
				_, err := f.s.RefundChatUse(ctx, c.ID, "not_heard")
				switch {
				case err == nil:
					mu.Lock()
					refunded++
					mu.Unlock()
				case errors.Is(err, store.ErrAlreadyRefunded), errors.Is(err, store.ErrAlreadySettled):
				default:
					t.Error(err)
				}
			}(j)
		}
		wg.Wait()
		if refunded > 1 || (refunded == 1) == (answered > 0) {
			t.Fatalf("charge %d: %d refunds and %d answered settlements", c.ID, refunded, answered)
		}
	}
	ledger, _ := f.s.LedgerByMembership(ctx, m.ID)
	charges, refunds := 0, 0
	for _, e := range ledger {
		if e.Kind == "charge" {
			charges++
			if e.Outcome == nil || e.SettledAt == nil {
				t.Fatalf("unsettled charge %+v", e)
			}
		} else {
			refunds++
		}
	}
	got, _ := f.s.UserMembership(ctx, f.user.ID, m.ID)
	if 50-*got.RemainingChatUses != charges-refunds {
		t.Fatalf("initial − remaining = %d, charges − refunds = %d", 50-*got.RemainingChatUses, charges-refunds)
	}
	msgs, _ := f.s.Messages(ctx, conv.ID)
	if len(msgs) != 20 {
		t.Fatalf("%d messages recorded for 20 turns (a retried record must not duplicate)", len(msgs))
	}
}

func TestRecordTurnSettlesWithTheMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, intp(3))
	m := f.buy(t)
	ctx := context.Background()
	conv, _ := f.s.CreateConversation(ctx, f.user.ID, m.ID, "ws", "", "")
	c, _ := f.s.ChargeChatUse(ctx, f.user.ID, m.ID, "text")
	id := c.ID
	rec := store.TurnRecord{
		Message:      store.Message{ConversationID: conv.ID, TurnID: "turn_x", UserText: "hello", Status: store.TurnCancelled, ChargeID: &id},
		Outcome:      store.OutcomeRefunded,
		RefundReason: "not_heard",
	}
	res, err := f.s.RecordTurn(ctx, rec)
	if err != nil || res.Outcome != store.OutcomeRefunded || *res.Remaining != 3 {
		t.Fatalf("record: %+v %v", res, err)
	}
	// A retry (the first commit's answer was lost) changes nothing.
	res, err = f.s.RecordTurn(ctx, rec)
	if err != nil || res.Outcome != store.OutcomeRefunded || *res.Remaining != 3 {
		t.Fatalf("retry: %+v %v", res, err)
	}
	// An answered settlement of a refunded charge keeps the refund.
	rec.Outcome, rec.Message.TurnID = store.OutcomeAnswered, "turn_y"
	if res, err := f.s.RecordTurn(ctx, rec); err != nil || res.Outcome != store.OutcomeRefunded {
		t.Fatalf("answer after refund: %+v %v", res, err)
	}
	ledger, _ := f.s.LedgerByMembership(ctx, m.ID)
	if len(ledger) != 2 || ledger[1].Reason != "not_heard" || ledger[0].UserText != "hello" || ledger[0].TurnStatus != store.TurnCancelled {
		t.Fatalf("ledger %+v", ledger)
	}
	if err := f.s.SettleAnswered(ctx, c.ID); !errors.Is(err, store.ErrAlreadyRefunded) {
		t.Fatalf("settling a refunded charge as answered: %v", err)
	}
	if _, err := f.s.RefundChatUse(ctx, 999999, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refund of an unknown charge: %v", err)
	}
}

func TestUnsettledChargesAreFoundForTheReconciler(t *testing.T) {
	t.Parallel()
	now := time.Now()
	clock := func() time.Time { return now }
	f := newFixture(t, intp(5), store.WithClock(clock))
	m := f.buy(t)
	ctx := context.Background()
	a, _ := f.s.ChargeChatUse(ctx, f.user.ID, m.ID, "voice")
	b, _ := f.s.ChargeChatUse(ctx, f.user.ID, m.ID, "voice")
	if err := f.s.SettleAnswered(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SettleAnswered(ctx, a.ID); err != nil {
		t.Fatalf("settling twice: %v", err)
	}
	// created_at is the database's clock: look a minute ahead of it.
	got, err := f.s.UnsettledCharges(ctx, time.Now().Add(time.Minute), 10)
	if err != nil || len(got) != 1 || got[0].ID != b.ID {
		t.Fatalf("unsettled %+v %v", got, err)
	}
	if got, _ := f.s.UnsettledCharges(ctx, time.Now().Add(-time.Hour), 10); len(got) != 0 {
		t.Fatalf("young charges are not the reconciler's: %+v", got)
	}
	sum, _ := f.s.UsageSummaryByUser(ctx, f.user.ID)
	if sum.Charges != 2 || sum.Answered != 1 || sum.Pending != 1 {
		t.Fatalf("summary %+v", sum)
	}
}

func TestConversationPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, intp(50))
	m := f.buy(t)
	ctx := context.Background()
	other, _ := f.s.CreateUser(ctx, store.NewUser{Name: "Bob", Email: "bob@example.com"})
	var ids []string
	for i := 0; i < 7; i++ {
		c, _ := f.s.CreateConversation(ctx, f.user.ID, m.ID, "ws", "", "")
		if i == 3 {
			continue // no turns: not listed
		}
		if err := f.s.AddMessage(ctx, &store.Message{ConversationID: c.ID, TurnID: "t1", UserText: "first words", Status: store.TurnDone}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := f.s.ConversationsByUser(ctx, f.user.ID, 4, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Conversations {
			if c.Turns != 1 || c.Preview != "first words" || c.PlanName != "Basic" {
				t.Fatalf("summary %+v", c)
			}
			seen = append(seen, c.ID)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(seen) != 6 {
		t.Fatalf("listed %d conversations, want 6", len(seen))
	}
	// Newest activity first: the last one created (and talked in) comes first.
	if seen[0] != ids[len(ids)-1] {
		t.Fatalf("order %v", seen)
	}
	if page, _ := f.s.ConversationsByUser(ctx, other.ID, 10, ""); len(page.Conversations) != 0 {
		t.Fatal("another user sees these conversations")
	}
	if _, err := f.s.ConversationsByUser(ctx, f.user.ID, 10, "garbage!"); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
	if _, err := f.s.UserConversation(ctx, other.ID, ids[0]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another user's conversation: %v", err)
	}
	recent, _ := f.s.RecentMessages(ctx, ids[0], 20)
	if len(recent) != 1 {
		t.Fatalf("recent %+v", recent)
	}
}
