package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/store"
)

// TestPublicPlans: GET /api/plans/public answers anyone, without a token, with the plans a new
// account can buy (B2C plans of no company, on sale), cheapest first, in the visitor's shape
// (no company ids, no dates); the list is the same with any token.
func TestPublicPlans(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	ctx := context.Background()
	plan := func(p store.NewPlan) store.Plan {
		t.Helper()
		p.DurationDays = 30
		out, err := env.Store.CreatePlan(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	plan(store.NewPlan{Name: "Starter", ChatUses: intp(30), Target: store.B2C, Price: 900})
	plan(store.NewPlan{Name: "Trial", ChatUses: intp(5), AnalysisUses: intp(1), Target: store.B2C, Price: 0, OncePerUser: true})
	old := plan(store.NewPlan{Name: "Old", Target: store.B2C, Price: 100})
	if _, err := env.Store.DeletePlan(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	plan(store.NewPlan{Name: "Team", Target: store.B2B, Price: 5000})
	_, admin := env.User("admin@example.com", store.RoleAdmin)
	acme := createCompany(t, env, admin, map[string]any{"name": "Acme"})
	plan(store.NewPlan{Name: "Acme Team", Target: store.B2B, Price: 0, CompanyID: acme.ID})

	_, learner := env.User("member@example.com", store.RoleUser)
	want(t, join(t, env, learner, acme.Codes[0].Code), http.StatusOK)

	var first []byte
	for _, tok := range []string{"", learner, admin} {
		r := env.Do(http.MethodGet, "/api/plans/public", tok, nil)
		want(t, r, http.StatusOK)
		if got := r.Header.Get("Cache-Control"); got != "public, max-age=60" {
			t.Errorf("Cache-Control %q", got)
		}
		var plans []map[string]any
		r.JSON(t, &plans)
		var names []string
		for _, p := range plans {
			names = append(names, p["name"].(string))
			for _, hidden := range []string{"companyId", "createdAt", "target", "deletedAt"} {
				if _, ok := p[hidden]; ok {
					t.Errorf("a public plan shows %s: %v", hidden, p)
				}
			}
		}
		if !slices.Equal(names, []string{"Trial", "Starter"}) {
			t.Fatalf("public plans %v, want [Trial Starter] (cheapest first; no deleted, B2B or company plans)", names)
		}
		if plans[0]["oncePerUser"] != true || plans[0]["chatUses"] != 5.0 || plans[0]["analysisUses"] != 1.0 || plans[1]["analysisUses"] != nil {
			t.Errorf("public plans %v", plans)
		}
		if first == nil {
			first = r.Body
		} else if !jsonEqual(t, first, r.Body) {
			t.Errorf("the list depends on the caller: %s, then %s", first, r.Body)
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
