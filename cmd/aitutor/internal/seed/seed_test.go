package seed_test

import (
	"testing"

	"github.com/aitutor/aitutor/cmd/aitutor/internal/seed"
	"github.com/aitutor/aitutor/store"
	"github.com/aitutor/aitutor/store/storetest"
)

// TestSeed: the demo data, twice. Demo prices are in won (KRW, no minor unit), which the
// prototype's frontend prints as won and the UI formats by currency.
func TestSeed(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	first, err := seed.Seed(t.Context(), st, true, seed.Passwords{})
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]int{}
	for _, p := range first.Plans {
		targets[p.Target]++
		if p.Currency != "KRW" || (p.Price != 0 && p.Price < 1000) {
			t.Errorf("plan %s costs %d %s, want a price in won", p.Name, p.Price, p.Currency)
		}
	}
	if targets[store.B2C] != 3 || targets[store.B2B] != 2 || first.Membership.Status != store.StatusActive ||
		first.Membership.RemainingChatUses == nil || first.LearnerPassword == "" {
		t.Fatalf("seeded %+v", first)
	}
	again, err := seed.Seed(t.Context(), st, true, seed.Passwords{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Membership.ID != first.Membership.ID || again.Plans[0].ID != first.Plans[0].ID || again.LearnerPassword != "" {
		t.Fatalf("a second seed changed things: %+v", again)
	}
}
