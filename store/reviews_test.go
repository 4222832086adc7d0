package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/aitutor/aitutor/store"
	"github.com/aitutor/aitutor/store/storetest"
)

// reviewFixture is a learner with a membership of analysis uses and n conversations of one turn.
func reviewFixture(t *testing.T, analysisUses *int, n int) (*store.Store, store.User, store.Membership, []string) {
	t.Helper()
	s := storetest.New(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, store.NewUser{Name: "Ann", Email: "ann@example.com"})
	p, err := s.CreatePlan(ctx, store.NewPlan{Name: "Reviews", DurationDays: 30, ChatUses: intp(10), AnalysisUses: analysisUses, Target: store.B2C, Price: 100})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Purchase(ctx, u.ID, p.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	var convs []string
	for i := 0; i < n; i++ {
		c, _ := s.CreateConversation(ctx, u.ID, r.Membership.ID, "ws", "", "")
		if err := s.AddMessage(ctx, &store.Message{ConversationID: c.ID, TurnID: "t1", UserText: "hello", Status: store.TurnDone}); err != nil {
			t.Fatal(err)
		}
		convs = append(convs, c.ID)
	}
	return s, u, r.Membership, convs
}

func lastMessage(t *testing.T, s *store.Store, conv string) int64 {
	t.Helper()
	msgs, err := s.Messages(context.Background(), conv)
	if err != nil || len(msgs) == 0 {
		t.Fatal(err)
	}
	return msgs[len(msgs)-1].ID
}

// 100 concurrent reviews of different conversations on a membership with 5 analysis uses charge
// exactly 5; the rest are refused.
func TestConcurrentReviewsNeverOverspend(t *testing.T) {
	t.Parallel()
	s, u, m, convs := reviewFixture(t, intp(5), 100)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	claimed, refused := 0, 0
	for _, conv := range convs {
		wg.Add(1)
		go func(conv string) {
			defer wg.Done()
			_, ok, err := s.ClaimReview(ctx, u.ID, m.ID, conv, lastMessage(t, s, conv))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && ok:
				claimed++
			case errors.Is(err, store.ErrAnalysisExhausted):
				refused++
			default:
				t.Errorf("claim: %v %v", ok, err)
			}
		}(conv)
	}
	wg.Wait()
	if claimed != 5 || refused != 95 {
		t.Fatalf("%d claimed, %d refused; want 5 and 95", claimed, refused)
	}
	got, _ := s.UserMembership(ctx, u.ID, m.ID)
	if *got.RemainingAnalysisUses != 0 || *got.RemainingChatUses != 10 {
		t.Fatalf("remaining analysis %d, chat %d", *got.RemainingAnalysisUses, *got.RemainingChatUses)
	}
	sum, _ := s.UsageSummaryByUser(ctx, u.ID)
	if sum.AnalysisCharges != 5 || sum.Charges != 0 {
		t.Fatalf("summary %+v", sum)
	}
}

// The same conversation state asked for at once is charged once; its completion settles the
// charge; a failed one is refunded and can be claimed again.
func TestReviewOfOneStateIsChargedOnce(t *testing.T) {
	t.Parallel()
	s, u, m, convs := reviewFixture(t, intp(3), 1)
	ctx := context.Background()
	conv := convs[0]
	upto := lastMessage(t, s, conv)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var claims []store.Review
	pending := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, ok, err := s.ClaimReview(ctx, u.ID, m.ID, conv, upto)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && ok:
				claims = append(claims, r)
			case errors.Is(err, store.ErrReviewPending):
				pending++
			default:
				t.Errorf("claim: %v %v", ok, err)
			}
		}()
	}
	wg.Wait()
	if len(claims) != 1 || pending != 19 {
		t.Fatalf("%d claims and %d pending of 20", len(claims), pending)
	}
	// It fails: refunded, and the state can be claimed again.
	if err := s.AbandonReview(ctx, claims[0].ID, "provider_error"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.UserMembership(ctx, u.ID, m.ID)
	if *got.RemainingAnalysisUses != 3 {
		t.Fatalf("after the refund: %d analysis uses", *got.RemainingAnalysisUses)
	}
	r, ok, err := s.ClaimReview(ctx, u.ID, m.ID, conv, upto)
	if err != nil || !ok {
		t.Fatalf("claim again: %v %v", ok, err)
	}
	done, err := s.CompleteReview(ctx, r.ID, "B1", json.RawMessage(`{"corrections":[]}`), json.RawMessage(`{"spokenTurns":0}`), "sim")
	if err != nil || *done.CEFR != "B1" {
		t.Fatalf("complete: %+v %v", done, err)
	}
	// Asked again for the same state: the stored review, nothing charged.
	again, ok, err := s.ClaimReview(ctx, u.ID, m.ID, conv, upto)
	if err != nil || ok || again.ID != r.ID {
		t.Fatalf("the same state again: %+v %v %v", again, ok, err)
	}
	ledger, _ := s.LedgerByMembership(ctx, m.ID)
	charges, refunds := 0, 0
	for _, e := range ledger {
		if e.Resource != "analysis" {
			t.Fatalf("a chat row %+v", e)
		}
		if e.Kind == "charge" {
			charges++
			if e.Outcome == nil {
				t.Fatalf("unsettled %+v", e)
			}
		} else {
			refunds++
		}
	}
	got, _ = s.UserMembership(ctx, u.ID, m.ID)
	if charges != 2 || refunds != 1 || 3-*got.RemainingAnalysisUses != charges-refunds {
		t.Fatalf("%d charges, %d refunds, %d left", charges, refunds, *got.RemainingAnalysisUses)
	}
	if latest, err := s.LatestReview(ctx, conv); err != nil || latest.ID != r.ID {
		t.Fatalf("latest: %+v %v", latest, err)
	}
}

func TestReviewRefusals(t *testing.T) {
	t.Parallel()
	s, u, m, convs := reviewFixture(t, intp(0), 1)
	ctx := context.Background()
	if _, _, err := s.ClaimReview(ctx, u.ID, m.ID, convs[0], lastMessage(t, s, convs[0])); !errors.Is(err, store.ErrAnalysisExhausted) {
		t.Fatalf("no analysis uses: %v", err)
	}
	other, _ := s.CreateUser(ctx, store.NewUser{Name: "Bob", Email: "bob@example.com"})
	if _, _, err := s.ClaimReview(ctx, other.ID, m.ID, convs[0], 1); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("another user's membership: %v", err)
	}
	// Unlimited analysis uses stay unlimited.
	s2, u2, m2, convs2 := reviewFixture(t, nil, 3)
	for i, c := range convs2 {
		if _, ok, err := s2.ClaimReview(ctx, u2.ID, m2.ID, c, lastMessage(t, s2, c)); err != nil || !ok {
			t.Fatalf("unlimited %d: %v", i, err)
		}
	}
	got, _ := s2.UserMembership(ctx, u2.ID, m2.ID)
	if got.RemainingAnalysisUses != nil {
		t.Fatalf("unlimited became %d", *got.RemainingAnalysisUses)
	}
}

func TestLearnerProfile(t *testing.T) {
	t.Parallel()
	s, u, _, _ := reviewFixture(t, intp(1), 0)
	ctx := context.Background()
	if _, err := s.LearnerProfile(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no profile yet: %v", err)
	}
	p := store.Profile{UserID: u.ID, Level: "B1", Mistakes: store.JSONB(`[]`), Topics: store.JSONB(`[{"topic":"football","count":1}]`), Goals: store.JSONB(`["x"]`), Reviews: 1}
	if err := s.SaveLearnerProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, err := s.LearnerProfile(ctx, u.ID)
	if err != nil || got.Level != "B1" || got.Reviews != 1 {
		t.Fatalf("%+v %v", got, err)
	}
	if err := s.DeleteLearnerProfile(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LearnerProfile(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}
