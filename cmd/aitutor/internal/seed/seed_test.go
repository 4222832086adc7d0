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
	for _, p := range first.Plans {
		if p.OncePerUser != (p.Name == "Trial") {
			t.Errorf("plan %s once per user: %v", p.Name, p.OncePerUser)
		}
	}

	// The demo company: the fixed code in development, a plan of its own, once.
	if first.Company.Name != seed.DemoCompanyName || first.CompanyCode != seed.DevCompanyCode ||
		first.CompanyPlan.CompanyID == nil || *first.CompanyPlan.CompanyID != first.Company.ID || first.CompanyPlan.Target != store.B2B {
		t.Fatalf("demo company %+v, code %q, plan %+v", first.Company, first.CompanyCode, first.CompanyPlan)
	}
	if again.Company.ID != first.Company.ID || again.CompanyCode != first.CompanyCode || again.CompanyPlan.ID != first.CompanyPlan.ID {
		t.Fatalf("a second seed changed the company: %+v %q", again.Company, again.CompanyCode)
	}
	detail, err := st.CompanyDetail(t.Context(), first.Company.ID)
	if err != nil || len(detail.Codes) != 1 || len(detail.Plans) != 1 {
		t.Fatalf("demo company detail %+v %v", detail, err)
	}
	// The code works.
	u, err := st.CreateUser(t.Context(), store.NewUser{Name: "Emp", Email: "emp@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.JoinCompany(t.Context(), u.ID, "acme-demo-2026"); err != nil {
		t.Fatalf("joining with the demo code: %v", err)
	}
	// An administrator disabled the demo code: seeding again leaves it disabled and makes another.
	if _, err := st.DisableCompanyCode(t.Context(), first.Company.ID, detail.Codes[0].ID); err != nil {
		t.Fatal(err)
	}
	third, err := seed.Seed(t.Context(), st, true, seed.Passwords{})
	if err != nil || third.CompanyCode == seed.DevCompanyCode || third.CompanyCode == "" {
		t.Fatalf("seeding after the demo code was disabled: %q %v", third.CompanyCode, err)
	}
}

// TestSeedGeneratesTheCompanyCodeOutsideDevelopment: no fixed demo code in production; the
// generated one is kept by later runs.
func TestSeedGeneratesTheCompanyCodeOutsideDevelopment(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	first, err := seed.Seed(t.Context(), st, false, seed.Passwords{})
	if err != nil {
		t.Fatal(err)
	}
	if first.CompanyCode == "" || first.CompanyCode == seed.DevCompanyCode || len(store.CodeLookup(first.CompanyCode)) != store.GeneratedCodeLength {
		t.Fatalf("production demo code %q", first.CompanyCode)
	}
	again, err := seed.Seed(t.Context(), st, false, seed.Passwords{})
	if err != nil || again.CompanyCode != first.CompanyCode {
		t.Fatalf("second run: code %q, %v", again.CompanyCode, err)
	}
}
