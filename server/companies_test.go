package server_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/store"
)

// Companies and corporate codes (issue 13), over HTTP.

type companyCode struct {
	ID         string     `json:"id"`
	Code       string     `json:"code"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	DisabledAt *time.Time `json:"disabledAt"`
	Status     string     `json:"status"`
}

type companyDetail struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	SeatLimit *int          `json:"seatLimit"`
	SeatsUsed int           `json:"seatsUsed"`
	Codes     []companyCode `json:"codes"`
	Members   []struct {
		store.User
		JoinedAt time.Time `json:"joinedAt"`
	} `json:"members"`
	Plans []store.Plan `json:"plans"`
}

type joined struct {
	Company struct{ ID, Name string } `json:"company"`
	User    store.User                `json:"user"`
}

type planForSale struct {
	store.Plan
	Active    bool   `json:"active"`
	Available bool   `json:"available"`
	Reason    string `json:"reason"`
}

var generatedCodeRe = regexp.MustCompile(`^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$`)

// createCompany creates a company through the API.
func createCompany(t *testing.T, env *servertest.Env, admin string, body any) companyDetail {
	t.Helper()
	r := env.Do("POST", "/api/admin/companies", admin, body)
	want(t, r, http.StatusCreated)
	var c companyDetail
	r.JSON(t, &c)
	return c
}

func join(t *testing.T, env *servertest.Env, tok, code string, headers ...string) servertest.Response {
	t.Helper()
	return env.Do("POST", "/api/companies/join", tok, map[string]string{"code": code}, headers...)
}

func plansFor(t *testing.T, env *servertest.Env, tok string) map[string]planForSale {
	t.Helper()
	r := env.Do("GET", "/api/membership", tok, nil)
	want(t, r, http.StatusOK)
	var plans []planForSale
	r.JSON(t, &plans)
	out := map[string]planForSale{}
	for _, p := range plans {
		out[p.Name] = p
	}
	return out
}

func planNames(m map[string]planForSale) string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

func TestAdminCompanies(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var offset atomic.Int64
	clock := func() time.Time { return now.Add(time.Duration(offset.Load())) }
	env := servertest.New(t, servertest.Options{Now: clock})
	_, admin := env.User("root@example.com", "admin")

	// One code is generated when none is given.
	acme := createCompany(t, env, admin, map[string]any{"name": "  Acme Corp ", "seatLimit": 3})
	if acme.Name != "Acme Corp" || *acme.SeatLimit != 3 || acme.SeatsUsed != 0 || len(acme.Codes) != 1 ||
		!generatedCodeRe.MatchString(acme.Codes[0].Code) || acme.Codes[0].Status != "active" || acme.Codes[0].ExpiresAt != nil ||
		acme.Members == nil || acme.Plans == nil {
		t.Fatalf("created %+v", acme)
	}
	// Chosen codes, one expiring; no seat limit.
	soon := clock().Add(time.Hour).UTC().Format(time.RFC3339)
	globex := createCompany(t, env, admin, map[string]any{"name": "Globex", "codes": []map[string]any{
		{"code": "globex-2026"}, {"code": "GLOBEX SOON", "expiresAt": soon}, {},
	}})
	if globex.SeatLimit != nil || len(globex.Codes) != 3 || globex.Codes[0].Code != "GLOBEX-2026" ||
		globex.Codes[1].Code != "GLOBEX SOON" || globex.Codes[1].ExpiresAt == nil || !generatedCodeRe.MatchString(globex.Codes[2].Code) {
		t.Fatalf("created %+v", globex)
	}

	past := clock().Add(-time.Minute).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"no name", map[string]any{"seatLimit": 3}, 400, "bad_request"},
		{"blank name", map[string]any{"name": "   "}, 400, "bad_request"},
		{"long name", map[string]any{"name": strings.Repeat("n", 201)}, 400, "bad_request"},
		{"zero seats", map[string]any{"name": "x", "seatLimit": 0}, 400, "bad_request"},
		{"negative seats", map[string]any{"name": "x", "seatLimit": -4}, 400, "bad_request"},
		{"fractional seats", map[string]any{"name": "x", "seatLimit": 2.5}, 400, "bad_request"},
		{"short code", map[string]any{"name": "x", "codes": []map[string]any{{"code": "ABC-123"}}}, 400, "bad_request"},
		{"long code", map[string]any{"name": "x", "codes": []map[string]any{{"code": strings.Repeat("A", 33)}}}, 400, "bad_request"},
		{"odd characters", map[string]any{"name": "x", "codes": []map[string]any{{"code": "ACME_CORP_2026"}}}, 400, "bad_request"},
		{"expiry in the past", map[string]any{"name": "x", "codes": []map[string]any{{"expiresAt": past}}}, 400, "bad_request"},
		{"expiry not a time", map[string]any{"name": "x", "codes": []map[string]any{{"expiresAt": "tomorrow"}}}, 400, "bad_request"},
		{"too many codes", map[string]any{"name": "x", "codes": make([]map[string]any, 21)}, 400, "bad_request"},
		{"malformed", `{"name": "x"`, 400, "bad_request"},
		{"name taken", map[string]any{"name": "ACME corp"}, 409, "company_name_taken"},
		{"code taken", map[string]any{"name": "Initech", "codes": []map[string]any{{"code": "Globex2026"}}}, 409, "code_taken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, env.Do("POST", "/api/admin/companies", admin, tc.body), tc.status, tc.code)
		})
	}
	var all []store.Company
	env.Do("GET", "/api/admin/companies", admin, nil).JSON(t, &all)
	if len(all) != 2 || all[0].Name != "Acme Corp" || all[1].Name != "Globex" {
		t.Fatalf("companies %+v (a refused company was kept?)", all)
	}

	// Adding codes: no body generates one; a chosen one; a taken one; bad input.
	r := env.Do("POST", "/api/admin/companies/"+acme.ID+"/codes", admin, nil)
	want(t, r, http.StatusCreated)
	var added companyCode
	r.JSON(t, &added)
	if !generatedCodeRe.MatchString(added.Code) || added.Code == acme.Codes[0].Code {
		t.Fatalf("added %+v", added)
	}
	r = env.Do("POST", "/api/admin/companies/"+acme.ID+"/codes", admin, map[string]any{"code": "Acme-Welcome-1", "expiresAt": soon})
	want(t, r, http.StatusCreated)
	r.JSON(t, &added)
	if added.Code != "ACME-WELCOME-1" || added.ExpiresAt == nil {
		t.Fatalf("added %+v", added)
	}
	want(t, env.Do("POST", "/api/admin/companies/"+acme.ID+"/codes", admin, map[string]any{"code": "acme welcome 1"}), 409, "code_taken")
	want(t, env.Do("POST", "/api/admin/companies/"+acme.ID+"/codes", admin, map[string]any{"code": "short"}), 400, "bad_request")
	want(t, env.Do("POST", "/api/admin/companies/"+acme.ID+"/codes", admin, map[string]any{"expiresAt": past}), 400, "bad_request")
	want(t, env.Do("POST", "/api/admin/companies/nope/codes", admin, nil), 400, "bad_request")
	want(t, env.Do("POST", "/api/admin/companies/00000000-0000-0000-0000-000000000000/codes", admin, nil), 404, "not_found")

	// Joining: wrong, expired, disabled, then right.
	_, annTok := env.User("ann@example.com", "user")
	want(t, join(t, env, annTok, "NOPE-NOPE-NOPE"), 404, "invalid_code")
	want(t, env.Do("POST", "/api/companies/join", annTok, map[string]string{}), 400, "bad_request")
	want(t, env.Do("POST", "/api/companies/join", annTok, map[string]string{"code": strings.Repeat("A", 65)}), 400, "bad_request")
	want(t, env.Do("POST", "/api/companies/join", annTok, `{"code": 5}`), 400, "bad_request")
	r = env.Do("POST", "/api/admin/companies/"+globex.ID+"/codes/"+globex.Codes[0].ID+"/disable", admin, nil)
	want(t, r, http.StatusOK)
	var disabled companyCode
	r.JSON(t, &disabled)
	if disabled.Status != "disabled" || disabled.DisabledAt == nil {
		t.Fatalf("disabled %+v", disabled)
	}
	want(t, env.Do("POST", "/api/admin/companies/"+acme.ID+"/codes/"+globex.Codes[0].ID+"/disable", admin, nil), 404, "not_found")
	want(t, env.Do("POST", "/api/admin/companies/"+acme.ID+"/codes/x/disable", admin, nil), 400, "bad_request")
	want(t, join(t, env, annTok, "globex-2026"), 410, "code_expired")
	offset.Store(int64(2 * time.Hour))
	want(t, join(t, env, annTok, "globex soon"), 410, "code_expired")
	want(t, join(t, env, annTok, "acme-welcome-1"), 410, "code_expired")

	r = join(t, env, annTok, strings.ToLower(acme.Codes[0].Code))
	want(t, r, http.StatusOK)
	var j joined
	r.JSON(t, &j)
	if j.Company.ID != acme.ID || j.Company.Name != "Acme Corp" || j.User.CustomerType != "B2B" || j.User.CompanyID == nil || *j.User.CompanyID != acme.ID {
		t.Fatalf("joined %s", r.Body)
	}
	if strings.Contains(string(r.Body), "seat") || strings.Contains(string(r.Body), "codes") {
		t.Fatalf("a learner sees the company's seats or codes: %s", r.Body)
	}
	want(t, join(t, env, annTok, acme.Codes[0].Code), http.StatusOK) // again: nothing changes
	want(t, join(t, env, annTok, globex.Codes[2].Code), 409, "already_in_company")

	// The detail shows the members, codes with their status and the seats.
	var detail companyDetail
	r = env.Do("GET", "/api/admin/companies/"+acme.ID, admin, nil)
	want(t, r, http.StatusOK)
	r.JSON(t, &detail)
	statuses := map[string]string{}
	for _, c := range detail.Codes {
		statuses[c.Code] = c.Status
	}
	if detail.SeatsUsed != 1 || len(detail.Members) != 1 || detail.Members[0].Email != "ann@example.com" || detail.Members[0].JoinedAt.IsZero() ||
		len(detail.Codes) != 3 || statuses["ACME-WELCOME-1"] != "expired" || statuses[acme.Codes[0].Code] != "active" {
		t.Fatalf("detail %s", r.Body)
	}
	want(t, env.Do("GET", "/api/admin/companies/00000000-0000-0000-0000-000000000000", admin, nil), 404, "not_found")
	want(t, env.Do("GET", "/api/admin/companies/nope", admin, nil), 400, "bad_request")
}

// TestCompanyPlansAndLeaving: who sees and buys which plan, before joining, as a member, as a
// member of another company, after leaving and after being removed.
func TestCompanyPlansAndLeaving(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	_, admin := env.User("root@example.com", "admin")
	acme := createCompany(t, env, admin, map[string]any{"name": "Acme"})
	globex := createCompany(t, env, admin, map[string]any{"name": "Globex"})
	env.Plan("Consumer", intp(10), store.B2C)
	env.Plan("Any Company", intp(10), store.B2B)
	newPlan := func(body map[string]any) store.Plan {
		r := env.Do("POST", "/api/admin/plan", admin, body)
		want(t, r, http.StatusCreated)
		var p store.Plan
		r.JSON(t, &p)
		return p
	}
	acmePlan := newPlan(map[string]any{"name": "Acme Team", "durationDays": 30, "price": 0, "chatUses": 50, "companyId": acme.ID})
	if acmePlan.Target != "B2B" || acmePlan.CompanyID == nil || *acmePlan.CompanyID != acme.ID || acmePlan.OncePerUser {
		t.Fatalf("company plan %+v", acmePlan)
	}
	globexPlan := newPlan(map[string]any{"name": "Globex Team", "durationDays": 30, "price": 0, "target": "B2B", "companyId": globex.ID})
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
	}{
		{"B2C plan of a company", map[string]any{"name": "x", "durationDays": 1, "price": 0, "target": "B2C", "companyId": acme.ID}, 400},
		{"company not a UUID", map[string]any{"name": "x", "durationDays": 1, "price": 0, "companyId": "acme"}, 400},
		{"unknown company", map[string]any{"name": "x", "durationDays": 1, "price": 0, "companyId": "00000000-0000-0000-0000-000000000000"}, 404},
		{"once per user not a boolean", map[string]any{"name": "x", "durationDays": 1, "price": 0, "oncePerUser": "yes"}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, env.Do("POST", "/api/admin/plan", admin, tc.body), tc.status)
		})
	}

	ann, annTok := env.User("ann@example.com", "user")
	_, gregTok := env.User("greg@example.com", "user")
	if got := planNames(plansFor(t, env, annTok)); got != "Consumer" {
		t.Fatalf("a B2C learner sees %s", got)
	}
	want(t, env.Do("POST", "/api/membership", annTok, map[string]string{"planId": acmePlan.ID}), 403, "plan_not_available")

	want(t, join(t, env, annTok, acme.Codes[0].Code), 200)
	want(t, join(t, env, gregTok, globex.Codes[0].Code), 200)
	plans := plansFor(t, env, annTok)
	if got := planNames(plans); got != "Acme Team,Any Company" {
		t.Fatalf("Acme's member sees %s", got)
	}
	if p := plans["Acme Team"]; !p.Available || p.Reason != "" || p.CompanyID == nil {
		t.Fatalf("Acme Team for Acme's member: %+v", p)
	}
	if got := planNames(plansFor(t, env, gregTok)); got != "Any Company,Globex Team" {
		t.Fatalf("Globex's member sees %s", got)
	}
	want(t, env.Do("POST", "/api/membership", gregTok, map[string]string{"planId": acmePlan.ID}), 403, "plan_not_available")
	want(t, env.Do("POST", "/api/membership", annTok, map[string]string{"planId": globexPlan.ID}), 403, "plan_not_available")
	r := env.Do("POST", "/api/membership", annTok, map[string]string{"planId": acmePlan.ID})
	want(t, r, http.StatusCreated)
	var bought store.Membership
	r.JSON(t, &bought)
	if bought.CompanyID == nil || *bought.CompanyID != acme.ID || !plansFor(t, env, annTok)["Acme Team"].Active {
		t.Fatalf("bought %s", r.Body)
	}

	// The caller's company is on /users/me.
	var me struct {
		CustomerType string                     `json:"customerType"`
		CompanyID    *string                    `json:"companyId"`
		Company      *struct{ ID, Name string } `json:"company"`
	}
	env.Do("GET", "/api/users/me", annTok, nil).JSON(t, &me)
	if me.CustomerType != "B2B" || me.Company == nil || me.Company.ID != acme.ID || me.Company.Name != "Acme" {
		t.Fatalf("me %+v", me)
	}

	// Leaving: B2C again, the company's plans are no longer sold, what was bought stays usable.
	r = env.Do("POST", "/api/companies/leave", annTok, nil)
	want(t, r, http.StatusOK)
	var left struct {
		User store.User `json:"user"`
	}
	r.JSON(t, &left)
	if left.User.CustomerType != "B2C" || left.User.CompanyID != nil {
		t.Fatalf("left %s", r.Body)
	}
	want(t, env.Do("POST", "/api/companies/leave", annTok, nil), 409, "not_in_company")
	if got := planNames(plansFor(t, env, annTok)); got != "Consumer" {
		t.Fatalf("after leaving, sees %s", got)
	}
	want(t, env.Do("POST", "/api/membership", annTok, map[string]string{"planId": acmePlan.ID}), 403, "plan_not_available")
	env.Do("GET", "/api/users/me", annTok, nil).JSON(t, &me)
	if me.Company != nil || me.CompanyID != nil {
		t.Fatalf("me after leaving %+v", me)
	}
	if _, err := env.Store.ChargeChatUse(context.Background(), ann.ID, bought.ID, "after leaving"); err != nil {
		t.Fatalf("the company membership stopped working when its learner left: %v", err)
	}
	var detail companyDetail
	env.Do("GET", "/api/admin/companies/"+acme.ID, admin, nil).JSON(t, &detail)
	if detail.SeatsUsed != 0 || len(detail.Members) != 0 || len(detail.Plans) != 1 || detail.Plans[0].ID != acmePlan.ID {
		t.Fatalf("Acme after Ann left: %+v", detail)
	}
}

func TestAdminCompanyMembersAndAssignToAll(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	_, admin := env.User("root@example.com", "admin")
	acme := createCompany(t, env, admin, map[string]any{"name": "Acme", "seatLimit": 10})
	globex := createCompany(t, env, admin, map[string]any{"name": "Globex"})
	var members []store.User
	var tokens []string
	for i := range 3 {
		u, tok := env.User(fmt.Sprintf("m%d@example.com", i), "user")
		want(t, join(t, env, tok, acme.Codes[0].Code), 200)
		members, tokens = append(members, u), append(tokens, tok)
	}
	outsider, _ := env.User("out@example.com", "user")
	team := env.Plan("Team", intp(20), store.B2B)
	var globexPlan store.Plan
	r := env.Do("POST", "/api/admin/plan", admin, map[string]any{"name": "Globex Team", "durationDays": 30, "price": 0, "companyId": globex.ID})
	want(t, r, http.StatusCreated)
	r.JSON(t, &globexPlan)

	r = env.Do("POST", "/api/admin/companies/"+acme.ID+"/plans/"+team.ID+"/assign", admin, nil)
	want(t, r, http.StatusOK)
	var assigned struct {
		CompanyID, PlanID string
		Created           int
	}
	r.JSON(t, &assigned)
	if assigned.Created != 3 || assigned.CompanyID != acme.ID || assigned.PlanID != team.ID {
		t.Fatalf("assigned %s", r.Body)
	}
	for _, tok := range tokens {
		var me struct {
			Memberships []store.Membership `json:"memberships"`
		}
		env.Do("GET", "/api/users/me", tok, nil).JSON(t, &me)
		if len(me.Memberships) != 1 || me.Memberships[0].PlanID != team.ID || !me.Memberships[0].GrantedByAdmin ||
			me.Memberships[0].Status != "active" || *me.Memberships[0].CompanyID != acme.ID {
			t.Fatalf("member's memberships %+v", me.Memberships)
		}
	}
	if ms, _ := env.Store.MembershipsByUser(context.Background(), outsider.ID); len(ms) != 0 {
		t.Fatal("an outsider got the company's plan")
	}
	zero := "00000000-0000-0000-0000-000000000000"
	want(t, env.Do("POST", "/api/admin/companies/"+acme.ID+"/plans/"+globexPlan.ID+"/assign", admin, nil), 409, "plan_of_other_company")
	want(t, env.Do("POST", "/api/admin/companies/"+acme.ID+"/plans/"+zero+"/assign", admin, nil), 404, "not_found")
	want(t, env.Do("POST", "/api/admin/companies/"+zero+"/plans/"+team.ID+"/assign", admin, nil), 404, "not_found")
	want(t, env.Do("POST", "/api/admin/companies/"+acme.ID+"/plans/x/assign", admin, nil), 400, "bad_request")
	env.Store.DeletePlan(context.Background(), team.ID) //nolint:errcheck
	want(t, env.Do("POST", "/api/admin/companies/"+acme.ID+"/plans/"+team.ID+"/assign", admin, nil), 404, "plan_not_for_sale")

	// Removing a member: they become B2C; the company's memberships stay unless revoked.
	var removed struct {
		User               store.User `json:"user"`
		RevokedMemberships int        `json:"revokedMemberships"`
	}
	r = env.Do("POST", "/api/admin/companies/"+acme.ID+"/members/"+members[0].ID+"/delete", admin, nil)
	want(t, r, http.StatusOK)
	r.JSON(t, &removed)
	if removed.User.CustomerType != "B2C" || removed.User.CompanyID != nil || removed.RevokedMemberships != 0 {
		t.Fatalf("removed %s", r.Body)
	}
	r = env.Do("POST", "/api/admin/companies/"+acme.ID+"/members/"+members[1].ID+"/delete?revokeMemberships=true", admin, nil)
	want(t, r, http.StatusOK)
	r.JSON(t, &removed)
	if removed.RevokedMemberships != 1 {
		t.Fatalf("removed and revoked %s", r.Body)
	}
	for i, wantStatus := range []string{"active", "revoked"} {
		ms, _ := env.Store.MembershipsByUser(context.Background(), members[i].ID)
		if ms[0].Status != wantStatus {
			t.Errorf("member %d's membership is %s, want %s", i, ms[0].Status, wantStatus)
		}
	}
	want(t, env.Do("POST", "/api/admin/companies/"+acme.ID+"/members/"+members[0].ID+"/delete", admin, nil), 404, "not_found")
	want(t, env.Do("POST", "/api/admin/companies/"+globex.ID+"/members/"+members[2].ID+"/delete", admin, nil), 404, "not_found")
	want(t, env.Do("POST", "/api/admin/companies/"+acme.ID+"/members/"+members[2].ID+"/delete?revokeMemberships=maybe", admin, nil), 400, "bad_request")
	want(t, env.Do("POST", "/api/admin/companies/"+acme.ID+"/members/x/delete", admin, nil), 400, "bad_request")
	var detail companyDetail
	env.Do("GET", "/api/admin/companies/"+acme.ID, admin, nil).JSON(t, &detail)
	if detail.SeatsUsed != 1 || len(detail.Members) != 1 || detail.Members[0].ID != members[2].ID {
		t.Fatalf("after removals %+v", detail)
	}
	// A removed learner may join again with a code.
	want(t, join(t, env, tokens[0], acme.Codes[0].Code), 200)
}

// TestSeatLimitOverHTTP: 20 learners join a company of 5 seats at once: exactly 5 get in.
func TestSeatLimitOverHTTP(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{Env: map[string]string{"JOIN_RATE_LIMIT": "10"}})
	_, admin := env.User("root@example.com", "admin")
	c := createCompany(t, env, admin, map[string]any{"name": "Small", "seatLimit": 5})
	tokens := make([]string, 20)
	for i := range tokens {
		_, tokens[i] = env.User(fmt.Sprintf("u%d@example.com", i), "user")
	}
	var mu sync.Mutex
	answers := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := join(t, env, tok, c.Codes[0].Code)
			mu.Lock()
			defer mu.Unlock()
			answers[fmt.Sprint(r.Status, " ", r.ErrorCode())]++
		}()
	}
	close(start)
	wg.Wait()
	// A full company is not a wrong guess: 15 refusals from one IP do not rate-limit it.
	if answers["200 "] != 5 || answers["409 company_full"] != 15 {
		t.Fatalf("answers %v, want 5 × 200 and 15 × 409 company_full", answers)
	}
	var detail companyDetail
	env.Do("GET", "/api/admin/companies/"+c.ID, admin, nil).JSON(t, &detail)
	if detail.SeatsUsed != 5 || len(detail.Members) != 5 {
		t.Fatalf("seats %d, members %d", detail.SeatsUsed, len(detail.Members))
	}
}

// TestJoinRateLimits: guessing codes is limited per account and per client IP (per minute, in
// memory) and per account per day (in PostgreSQL, so across instances); successful joins from
// one office do not count.
func TestJoinRateLimits(t *testing.T) {
	t.Parallel()
	t.Run("per account and per IP", func(t *testing.T) {
		t.Parallel()
		env := servertest.New(t, servertest.Options{Env: map[string]string{"JOIN_RATE_LIMIT": "3", "TRUSTED_PROXIES": "127.0.0.1"}})
		_, admin := env.User("root@example.com", "admin")
		c := createCompany(t, env, admin, map[string]any{"name": "Office"})
		from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
		// Five colleagues join from one office address: none is limited.
		for i := range 5 {
			_, tok := env.User(fmt.Sprintf("colleague%d@example.com", i), "user")
			want(t, join(t, env, tok, c.Codes[0].Code, from("198.51.100.7")...), 200)
		}
		// A guesser: three wrong codes, then 429 even with the right one.
		_, guesser := env.User("guesser@example.com", "user")
		for range 3 {
			want(t, join(t, env, guesser, "WRONG-CODE-0000", from("203.0.113.1")...), 404, "invalid_code")
		}
		want(t, join(t, env, guesser, c.Codes[0].Code, from("203.0.113.2")...), 429, "rate_limited") // the account
		// Another account from the guesser's address is limited too (the IP), one from
		// elsewhere is not.
		_, sibling := env.User("sibling@example.com", "user")
		want(t, join(t, env, sibling, c.Codes[0].Code, from("203.0.113.1")...), 429, "rate_limited")
		want(t, join(t, env, sibling, c.Codes[0].Code, from("192.0.2.9")...), 200)
	})
	t.Run("per account per day, across instances", func(t *testing.T) {
		t.Parallel()
		vars := map[string]string{"JOIN_DAILY_FAILURE_LIMIT": "4", "TRUSTED_PROXIES": "127.0.0.1"}
		env := servertest.New(t, servertest.Options{Env: vars})
		other := servertest.New(t, servertest.Options{Env: vars, Store: env.Store}) // a second instance
		_, admin := env.User("root@example.com", "admin")
		c := createCompany(t, env, admin, map[string]any{"name": "Daily"})
		expired := createCompany(t, env, admin, map[string]any{"name": "Old"})
		env.Do("POST", "/api/admin/companies/"+expired.ID+"/codes/"+expired.Codes[0].ID+"/disable", admin, nil)
		_, guesser := env.User("guesser@example.com", "user")
		// Concurrent wrong guesses on both instances never exceed the day's limit.
		var wg sync.WaitGroup
		var notFound, limited atomic.Int32
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := env
				if i%2 == 1 {
					e = other
				}
				code := "WRONG-CODE-0000"
				if i == 0 {
					code = expired.Codes[0].Code // a disabled code counts as a failure too
				}
				switch r := join(t, e, guesser, code, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1)); r.ErrorCode() {
				case "invalid_code", "code_expired":
					notFound.Add(1)
				case "rate_limited":
					limited.Add(1)
				default:
					t.Errorf("answer %d %s", r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		if notFound.Load() != 4 || limited.Load() != 4 {
			t.Fatalf("%d guesses answered, %d limited; want 4 and 4", notFound.Load(), limited.Load())
		}
		r := join(t, other, guesser, c.Codes[0].Code, "X-Forwarded-For", "192.0.2.1")
		want(t, r, 429, "rate_limited")
		if !strings.Contains(r.ErrorMessage(), "today") {
			t.Fatalf("message %q does not say the limit is daily", r.ErrorMessage())
		}
		// Another account is not limited; successful joins do not use the day's failures.
		_, ann := env.User("ann@example.com", "user")
		for range 6 {
			want(t, join(t, env, ann, c.Codes[0].Code, "X-Forwarded-For", "192.0.2.2"), 200)
		}
	})
}

// TestOncePerUserPlansOverHTTP: a $0 trial is bought once per account; the list says so; the
// same Idempotency-Key still replays; concurrent purchases make one membership.
func TestOncePerUserPlansOverHTTP(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	_, admin := env.User("root@example.com", "admin")
	r := env.Do("POST", "/api/admin/plan", admin, map[string]any{"name": "Trial", "durationDays": 7, "price": 0, "chatUses": 5, "oncePerUser": true})
	want(t, r, http.StatusCreated)
	var trial store.Plan
	r.JSON(t, &trial)
	if !trial.OncePerUser || !strings.Contains(string(r.Body), `"oncePerUser":true`) {
		t.Fatalf("trial %s", r.Body)
	}
	env.Plan("Starter", intp(30), store.B2C)

	ann, annTok := env.User("ann@example.com", "user")
	plans := plansFor(t, env, annTok)
	if p := plans["Trial"]; !p.Available || p.Reason != "" || !p.OncePerUser {
		t.Fatalf("trial before buying: %+v", p)
	}
	r = env.Do("POST", "/api/membership", annTok, map[string]string{"planId": trial.ID}, "Idempotency-Key", "trial-1")
	want(t, r, http.StatusCreated)
	var first store.Membership
	r.JSON(t, &first)
	again := env.Do("POST", "/api/membership", annTok, map[string]string{"planId": trial.ID}, "Idempotency-Key", "trial-1")
	want(t, again, http.StatusCreated)
	var replayed store.Membership
	again.JSON(t, &replayed)
	if replayed.ID != first.ID || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay gave %s", again.Body)
	}
	want(t, env.Do("POST", "/api/membership", annTok, map[string]string{"planId": trial.ID}, "Idempotency-Key", "trial-2"), 409, "plan_already_used")
	want(t, env.Do("POST", "/api/membership", annTok, map[string]string{"planId": trial.ID}), 409, "plan_already_used")
	plans = plansFor(t, env, annTok)
	if p := plans["Trial"]; p.Available || p.Reason != "already_used" || !p.Active {
		t.Fatalf("trial after buying: %+v", p)
	}
	if p := plans["Starter"]; !p.Available || p.Reason != "" {
		t.Fatalf("starter: %+v", p)
	}
	// Administrators may grant it again.
	want(t, env.Do("POST", "/api/admin/users/"+ann.ID+"/plans/"+trial.ID+"/assign", admin, nil), 201)

	// 20 purchases at once, with and without keys: one membership.
	bob, bobTok := env.User("bob@example.com", "user")
	var wg sync.WaitGroup
	var mu sync.Mutex
	answers := map[string]int{}
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var hdr []string
			if i%2 == 0 {
				hdr = []string{"Idempotency-Key", fmt.Sprintf("k%d", i)}
			}
			r := env.Do("POST", "/api/membership", bobTok, map[string]string{"planId": trial.ID}, hdr...)
			mu.Lock()
			answers[fmt.Sprint(r.Status, " ", r.ErrorCode())]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if answers["201 "] != 1 || answers["409 plan_already_used"] != 19 {
		t.Fatalf("answers %v, want one 201 and 19 × 409 plan_already_used", answers)
	}
	if ms, _ := env.Store.MembershipsByUser(context.Background(), bob.ID); len(ms) != 1 {
		t.Fatalf("%d memberships of the trial", len(ms))
	}
}

func TestCompanyRoutesNeedSignIn(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	want(t, env.Do("POST", "/api/companies/join", "", map[string]string{"code": "ANY-CODE-1234"}), 401, "unauthorized")
	want(t, env.Do("POST", "/api/companies/leave", "", nil), 401, "unauthorized")
}
