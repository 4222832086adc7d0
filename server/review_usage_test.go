package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
)

// usageBody is GET /api/users/me/usage (and the admin's) as the UI reads it.
type usageBody struct {
	Summary store.UsageSummary `json:"summary"`
	Ledger  []struct {
		Kind           string `json:"kind"`
		Resource       string `json:"resource"`
		Delta          int    `json:"delta"`
		RemainingAfter *int   `json:"remainingAfter"`
		Reason         string `json:"reason"`
		Description    string `json:"description"`
	} `json:"ledger"`
}

// TestReviewUsageInWords: the analysis uses of reviews appear in the usage history (the
// learner's and the admin's) described in words, beside the chat turns: a written review is a
// "Conversation review", a review asked for again with nothing new is not charged again, and a
// review that could not be written is refunded with the reason in words.
func TestReviewUsageInWords(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	ctx := context.Background()
	u, token := env.User("reviewed@example.com", store.RoleUser)
	_, adminToken := env.User("auditor@example.com", store.RoleAdmin)
	plan, err := env.Store.CreatePlan(ctx, store.NewPlan{Name: "Two reviews", DurationDays: 30, ChatUses: intp(10), AnalysisUses: intp(2), Target: store.B2C, Price: 500})
	if err != nil {
		t.Fatal(err)
	}
	m := env.Membership(u, plan)
	conversation := func(text string) string {
		t.Helper()
		c, err := env.Store.CreateConversation(ctx, u.ID, m.ID, "ws", "intermediate", "")
		if err != nil {
			t.Fatal(err)
		}
		msg := store.Message{ConversationID: c.ID, TurnID: "turn_" + c.ID[:8], UserText: text, TutorText: "Tell me more.", Status: store.TurnDone}
		if err := env.Store.AddMessage(ctx, &msg); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	usage := func(path, tok string) usageBody {
		t.Helper()
		r := env.Do(http.MethodGet, path, tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		var b usageBody
		r.JSON(t, &b)
		return b
	}

	// A review is written: one analysis use, described as a conversation review.
	first := conversation("I goed to the market on Saturday morning.")
	if r := env.Do(http.MethodPost, "/api/conversations/"+first+"/review", token, nil); r.Status != http.StatusCreated {
		t.Fatalf("the first review: %d %s", r.Status, r.Body)
	}
	// Asked again with nothing new: the stored review, nothing charged.
	if r := env.Do(http.MethodPost, "/api/conversations/"+first+"/review", token, nil); r.Status != http.StatusOK {
		t.Fatalf("the same review again: %d %s, want 200", r.Status, r.Body)
	}
	b := usage("/api/users/me/usage", token)
	if len(b.Ledger) != 1 {
		t.Fatalf("ledger after a review asked for twice: %+v, want one charge", b.Ledger)
	}
	if e := b.Ledger[0]; e.Resource != "analysis" || e.Kind != "charge" || e.Reason != "review" || e.Description != "Conversation review" ||
		e.RemainingAfter == nil || *e.RemainingAfter != 1 {
		t.Errorf("the review's charge: %+v, want an analysis charge described as \"Conversation review\", 1 left", e)
	}
	if s := b.Summary; s.AnalysisCharges != 1 || s.AnalysisRefunds != 0 || s.AnalysisNet != 1 || s.Charges != 0 {
		t.Errorf("summary after one review: %+v", s)
	}

	// The reviewer keeps failing (through the provider's retries and the server's second
	// attempt): 502, and the use is given back.
	env.Sim.Fail(openaisim.EndpointChat, openaisim.Failure{Status: http.StatusInternalServerError, Times: 100})
	second := conversation("Yesterday I have cooked a soup for my family.")
	if r := env.Do(http.MethodPost, "/api/conversations/"+second+"/review", token, nil); r.Status != http.StatusBadGateway {
		t.Fatalf("a review the reviewer could not write: %d %s, want 502", r.Status, r.Body)
	}
	env.Sim.Fail(openaisim.EndpointChat, openaisim.Failure{})
	for _, path := range []struct{ path, token string }{{"/api/users/me/usage", token}, {"/api/admin/users/" + u.ID + "/usage", adminToken}} {
		b = usage(path.path, path.token)
		if len(b.Ledger) != 3 {
			t.Fatalf("%s: ledger %+v, want the refund, its charge and the first charge", path.path, b.Ledger)
		}
		refund, charge := b.Ledger[0], b.Ledger[1]
		if refund.Resource != "analysis" || refund.Kind != "refund" || refund.Delta != 1 || refund.Description != "Refunded: the review could not be written" {
			t.Errorf("%s: the refund: %+v", path.path, refund)
		}
		if charge.Resource != "analysis" || charge.Description != "Conversation review (refunded: it could not be written)" {
			t.Errorf("%s: the refunded charge: %+v", path.path, charge)
		}
		if s := b.Summary; s.AnalysisCharges != 2 || s.AnalysisRefunds != 1 || s.AnalysisNet != 1 {
			t.Errorf("%s: summary %+v, want 2 charges, 1 refund, 1 net", path.path, s)
		}
	}

	// A chat turn keeps its own words beside the reviews.
	if _, err := env.Store.ChargeChatUse(ctx, u.ID, m.ID, "text"); err != nil {
		t.Fatal(err)
	}
	b = usage("/api/users/me/usage", token)
	if e := b.Ledger[0]; e.Resource != "chat" || e.Description != "Typed conversation turn (in progress)" {
		t.Errorf("a chat charge beside the reviews: %+v", e)
	}
	var me struct {
		Memberships []store.Membership `json:"memberships"`
	}
	env.Do(http.MethodGet, "/api/users/me", token, nil).JSON(t, &me)
	if got := me.Memberships[0].RemainingAnalysisUses; got == nil || *got != 1 {
		t.Errorf("remaining analysis uses: %v, want 1 (one review written, one refunded)", got)
	}
}
