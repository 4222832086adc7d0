package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/aitutor/aitutor/server"
	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/store"
)

func intp(n int) *int { return &n }

// want fails the test unless r has status (and, when given, error code).
func want(t *testing.T, r servertest.Response, status int, code ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if len(code) > 0 && r.ErrorCode() != code[0] {
		t.Fatalf("error code %q, want %q: %s", r.ErrorCode(), code[0], r.Body)
	}
	if status >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("error without JSON content type: %q", r.Header.Get("Content-Type"))
	}
}

func TestSignupAndLogin(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	r := env.Do("POST", "/api/auth/signup", "", map[string]string{"name": "Ann", "email": "ann@example.com", "password": "correct horse"})
	want(t, r, http.StatusCreated)
	var auth struct {
		Token string     `json:"token"`
		User  store.User `json:"user"`
	}
	r.JSON(t, &auth)
	if auth.Token == "" || auth.User.Email != "ann@example.com" || auth.User.Role != "user" || auth.User.CustomerType != "B2C" {
		t.Fatalf("signup answer: %s", r.Body)
	}
	if strings.Contains(string(r.Body), "password") {
		t.Fatalf("the answer leaks the password hash: %s", r.Body)
	}
	me := env.Do("GET", "/api/users/me", auth.Token, nil)
	want(t, me, http.StatusOK)

	r = env.Do("POST", "/api/auth/login", "", map[string]string{"email": "ANN@example.com", "password": "correct horse"})
	want(t, r, http.StatusOK)

	cases := []struct {
		name   string
		path   string
		body   any
		status int
		code   string
	}{
		{"duplicate e-mail", "/api/auth/signup", map[string]string{"name": "A", "email": "Ann@Example.com", "password": "12345678"}, 409, "email_taken"},
		{"bad e-mail", "/api/auth/signup", map[string]string{"name": "A", "email": "not-an-email", "password": "12345678"}, 400, "bad_request"},
		{"short password", "/api/auth/signup", map[string]string{"name": "A", "email": "b@example.com", "password": "short"}, 400, "bad_request"},
		{"no name", "/api/auth/signup", map[string]string{"email": "c@example.com", "password": "12345678"}, 400, "bad_request"},
		{"bad customer type", "/api/auth/signup", map[string]string{"name": "A", "email": "d@example.com", "password": "12345678", "customerType": "VIP"}, 400, "bad_request"},
		{"self-declared company account", "/api/auth/signup", map[string]string{"name": "A", "email": "e@example.com", "password": "12345678", "customerType": "B2B"}, 400, "bad_request"},
		{"malformed JSON", "/api/auth/signup", `{"name": "A",`, 400, "bad_request"},
		{"empty body", "/api/auth/login", "", 400, "bad_request"},
		{"wrong type", "/api/auth/login", `{"email": 5, "password": "x"}`, 400, "bad_request"},
		{"wrong password", "/api/auth/login", map[string]string{"email": "ann@example.com", "password": "wrong password"}, 401, "invalid_credentials"},
		{"unknown e-mail", "/api/auth/login", map[string]string{"email": "nobody@example.com", "password": "whatever1"}, 401, "invalid_credentials"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want(t, env.Do("POST", tc.path, "", tc.body), tc.status, tc.code)
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		want(t, env.Do("POST", "/api/auth/login", "", "email=a", "Content-Type", "application/x-www-form-urlencoded"), 415, "unsupported_media_type")
	})
}

func TestAuthRateLimit(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{Env: map[string]string{"AUTH_RATE_LIMIT": "0.01"}})
	limited := false
	for i := 0; i < 30 && !limited; i++ {
		r := env.Do("POST", "/api/auth/login", "", map[string]string{"email": "x@example.com", "password": "nope-nope"})
		if r.Status == http.StatusTooManyRequests {
			want(t, r, 429, "rate_limited")
			limited = true
		}
	}
	if !limited {
		t.Fatal("30 quick sign-in attempts were never rate limited")
	}
}

func sign(t *testing.T, claims jwt.Claims, method jwt.SigningMethod, key any) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokens(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	u, tok := env.User("ann@example.com", "user")
	exp := jwt.NewNumericDate(time.Now().Add(time.Hour))
	// The prototype's tokens carry only id and email: they work, as role user.
	proto := sign(t, jwt.MapClaims{"id": u.ID, "email": u.Email, "exp": exp.Unix()}, jwt.SigningMethodHS256, []byte(servertest.Secret))
	// A token claiming admin for a user does not make them admin: the database decides.
	claimsAdmin := sign(t, jwt.MapClaims{"id": u.ID, "email": u.Email, "role": "admin", "exp": exp.Unix()}, jwt.SigningMethodHS256, []byte(servertest.Secret))

	for _, tc := range []struct {
		name   string
		token  string
		status int
	}{
		{"valid", tok, 200},
		{"prototype shape", proto, 200},
		{"none", "", 401},
		{"garbage", "not.a.token", 401},
		{"other secret", sign(t, jwt.MapClaims{"id": u.ID, "exp": exp.Unix()}, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx")), 401},
		{"expired", sign(t, jwt.MapClaims{"id": u.ID, "exp": time.Now().Add(-time.Hour).Unix()}, jwt.SigningMethodHS256, []byte(servertest.Secret)), 401},
		{"no exp", sign(t, jwt.MapClaims{"id": u.ID}, jwt.SigningMethodHS256, []byte(servertest.Secret)), 401},
		{"HS512", sign(t, jwt.MapClaims{"id": u.ID, "exp": exp.Unix()}, jwt.SigningMethodHS512, []byte(servertest.Secret)), 401},
		{"alg none", sign(t, jwt.MapClaims{"id": u.ID, "exp": exp.Unix()}, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType), 401},
		{"unknown user", sign(t, jwt.MapClaims{"id": "00000000-0000-0000-0000-000000000000", "exp": exp.Unix()}, jwt.SigningMethodHS256, []byte(servertest.Secret)), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := env.Do("GET", "/api/users/me", tc.token, nil)
			want(t, r, tc.status)
			if tc.status == 200 {
				var me struct{ ID string }
				r.JSON(t, &me)
				if me.ID != u.ID {
					t.Fatalf("me = %s, want %s", me.ID, u.ID)
				}
			}
		})
	}
	want(t, env.Do("GET", "/api/admin/users", claimsAdmin, nil), 403, "forbidden")
	r := env.Do("GET", "/api/users/me", "", nil, "Authorization", "Basic dXNlcjpwYXNz")
	want(t, r, 401, "unauthorized")
}

func TestMeAndPlansForSale(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	u, tok, m := env.Learner("ann@example.com", intp(3))
	_, bobTok := env.User("bob@example.com", "user", store.B2B)
	b2b := env.Plan("Company", nil, store.B2B)

	var me struct {
		ID          string             `json:"id"`
		Email       string             `json:"email"`
		Memberships []store.Membership `json:"memberships"`
	}
	env.Do("GET", "/api/users/me", tok, nil).JSON(t, &me)
	if me.ID != u.ID || len(me.Memberships) != 1 || me.Memberships[0].ID != m.ID ||
		me.Memberships[0].Plan.ID != m.PlanID || *me.Memberships[0].RemainingChatUses != 3 || me.Memberships[0].Status != "active" {
		t.Fatalf("me = %+v", me)
	}

	var plans []struct {
		store.Plan
		Active bool `json:"active"`
	}
	env.Do("GET", "/api/membership", tok, nil).JSON(t, &plans)
	if len(plans) != 1 || plans[0].ID != m.PlanID || !plans[0].Active || plans[0].Target != "B2C" {
		t.Fatalf("B2C learner sees %+v", plans)
	}
	env.Do("GET", "/api/membership", bobTok, nil).JSON(t, &plans)
	if len(plans) != 1 || plans[0].ID != b2b.ID || plans[0].Active {
		t.Fatalf("B2B learner sees %+v", plans)
	}
	want(t, env.Do("GET", "/api/membership", "", nil), 401)
}

func TestBuyPlan(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	_, tok := env.User("ann@example.com", "user")
	plan := env.Plan("Starter", intp(10), store.B2C)
	b2b := env.Plan("Company", nil, store.B2B)
	gone := env.Plan("Old", intp(1), store.B2C)
	env.Store.DeletePlan(context.Background(), gone.ID) //nolint:errcheck

	r := env.Do("POST", "/api/membership", tok, map[string]string{"planId": plan.ID}, "Idempotency-Key", "k1")
	want(t, r, http.StatusCreated)
	var first store.Membership
	r.JSON(t, &first)
	if first.PlanID != plan.ID || *first.RemainingChatUses != 10 || first.Status != "active" {
		t.Fatalf("bought %+v", first)
	}
	again := env.Do("POST", "/api/membership", tok, map[string]string{"planId": plan.ID}, "Idempotency-Key", "k1")
	want(t, again, http.StatusCreated)
	var second store.Membership
	again.JSON(t, &second)
	if second.ID != first.ID || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry gave %s (replayed %q), want %s", second.ID, again.Header.Get("Idempotent-Replayed"), first.ID)
	}
	other := env.Plan("Other", intp(1), store.B2C)
	want(t, env.Do("POST", "/api/membership", tok, map[string]string{"planId": other.ID}, "Idempotency-Key", "k1"), 422, "idempotency_key_reused")

	for _, tc := range []struct {
		name   string
		body   any
		key    string
		status int
		code   string
	}{
		{"no plan", map[string]string{}, "", 400, "bad_request"},
		{"bad uuid", map[string]string{"planId": "abc"}, "", 400, "bad_request"},
		{"unknown plan", map[string]string{"planId": "00000000-0000-0000-0000-000000000000"}, "", 404, "not_found"},
		{"deleted plan", map[string]string{"planId": gone.ID}, "", 404, "plan_not_for_sale"},
		{"other customer type", map[string]string{"planId": b2b.ID}, "", 403, "plan_not_available"},
		{"bad key", map[string]string{"planId": plan.ID}, "has space", 400, "bad_request"},
		{"malformed", `{"planId":`, "", 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.key != "" {
				hdr = []string{"Idempotency-Key", tc.key}
			}
			want(t, env.Do("POST", "/api/membership", tok, tc.body, hdr...), tc.status, tc.code)
		})
	}
	want(t, env.Do("POST", "/api/membership", "", map[string]string{"planId": plan.ID}), 401)
}

func TestConcurrentPurchasesOverHTTP(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	u, tok := env.User("ann@example.com", "user")
	plan := env.Plan("Starter", intp(10), store.B2C)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	ids := map[string]bool{}
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := env.Do("POST", "/api/membership", tok, map[string]string{"planId": plan.ID}, "Idempotency-Key", "same-key")
			mu.Lock()
			defer mu.Unlock()
			statuses[r.Status]++
			if r.Status == http.StatusCreated {
				var m store.Membership
				json.Unmarshal(r.Body, &m) //nolint:errcheck
				ids[m.ID] = true
			} else if r.Status != http.StatusConflict || r.ErrorCode() != "idempotency_key_in_flight" {
				t.Errorf("unexpected answer %d %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	ms, _ := env.Store.MembershipsByUser(context.Background(), u.ID)
	if len(ms) != 1 || len(ids) != 1 {
		t.Fatalf("20 purchases with one key made %d memberships (answers %v, ids %v)", len(ms), statuses, ids)
	}
}

func TestAdminRoutesNeedAdmin(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	learner, tok, m := env.Learner("ann@example.com", intp(3))
	plan := env.Plan("P", nil, store.B2C)
	company, err := env.Store.CreateCompany(context.Background(), store.NewCompany{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	member, memberTok := env.User("member@example.com", "user")
	want(t, env.Do("POST", "/api/companies/join", memberTok, map[string]string{"code": company.Codes[0].Code}), 200)
	routes := []struct{ method, path string }{
		{"POST", "/api/admin/plan"},
		{"GET", "/api/admin/plans"},
		{"POST", "/api/admin/plans/" + plan.ID + "/delete"},
		{"GET", "/api/admin/users"},
		{"GET", "/api/admin/users/" + learner.ID},
		{"GET", "/api/admin/users/" + learner.ID + "/usage"},
		{"POST", "/api/admin/users/" + learner.ID + "/plans/" + plan.ID + "/assign"},
		{"POST", "/api/admin/users/" + learner.ID + "/memberships/" + m.ID + "/delete"},
		{"GET", "/api/admin/metrics/turns"},
		{"GET", "/api/admin/companies"},
		{"POST", "/api/admin/companies"},
		{"GET", "/api/admin/companies/" + company.ID},
		{"POST", "/api/admin/companies/" + company.ID + "/codes"},
		{"POST", "/api/admin/companies/" + company.ID + "/codes/" + company.Codes[0].ID + "/disable"},
		{"POST", "/api/admin/companies/" + company.ID + "/members/" + learner.ID + "/delete"},
		{"POST", "/api/admin/companies/" + company.ID + "/plans/" + plan.ID + "/assign"},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			want(t, env.Do(rt.method, rt.path, "", nil), 401, "unauthorized")
			want(t, env.Do(rt.method, rt.path, tok, map[string]any{}), 403, "forbidden")
		})
	}
	// Nothing changed.
	got, _ := env.Store.UserMembership(context.Background(), learner.ID, m.ID)
	if got.RevokedAt != nil {
		t.Fatal("a learner revoked a membership")
	}
	if p, _ := env.Store.PlanByID(context.Background(), plan.ID); p.DeletedAt != nil {
		t.Fatal("a learner deleted a plan")
	}
	// A member cannot manage their own company either.
	for _, path := range []string{
		"/api/admin/companies/" + company.ID + "/members/" + member.ID + "/delete",
		"/api/admin/companies/" + company.ID + "/plans/" + plan.ID + "/assign",
		"/api/admin/companies/" + company.ID + "/codes",
	} {
		want(t, env.Do("POST", path, memberTok, nil), 403, "forbidden")
	}
	detail, _ := env.Store.CompanyDetail(context.Background(), company.ID)
	if len(detail.Members) != 1 || len(detail.Codes) != 1 || detail.Codes[0].Status != store.CodeActive {
		t.Fatalf("a learner changed a company: %+v", detail)
	}
	if ms, _ := env.Store.MembershipsByUser(context.Background(), member.ID); len(ms) != 0 {
		t.Fatal("a learner assigned a plan to a company")
	}
}

func TestAdminPlans(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	_, admin := env.User("root@example.com", "admin")
	learner, tok := env.User("ann@example.com", "user")

	// The prototype's body: features, no target (B2C by default).
	r := env.Do("POST", "/api/admin/plan", admin, map[string]any{
		"name": "Prototype", "description": "d", "durationDays": 30, "price": 1500,
		"features": map[string]any{"chatUses": 40, "analysisUses": 5},
	})
	want(t, r, http.StatusCreated)
	var proto store.Plan
	r.JSON(t, &proto)
	if proto.Target != "B2C" || *proto.ChatUses != 40 || *proto.AnalysisUses != 5 || *proto.Features.ChatUses != 40 || proto.Price != 1500 {
		t.Fatalf("prototype plan = %s", r.Body)
	}
	// Flat fields with a target; null uses are unlimited.
	r = env.Do("POST", "/api/admin/plan", admin, map[string]any{
		"name": "Company", "durationDays": 365, "price": 99900, "target": "B2B", "chatUses": nil, "currency": "EUR",
	})
	want(t, r, http.StatusCreated)
	var flat store.Plan
	r.JSON(t, &flat)
	if flat.Target != "B2B" || flat.ChatUses != nil || flat.Currency != "EUR" {
		t.Fatalf("flat plan = %s", r.Body)
	}

	for _, tc := range []struct {
		name string
		body any
	}{
		{"negative price", map[string]any{"name": "x", "durationDays": 30, "price": -1}},
		{"fractional price", map[string]any{"name": "x", "durationDays": 30, "price": 9.99}},
		{"no price", map[string]any{"name": "x", "durationDays": 30}},
		{"zero days", map[string]any{"name": "x", "durationDays": 0, "price": 1}},
		{"negative days", map[string]any{"name": "x", "durationDays": -3, "price": 1}},
		{"no name", map[string]any{"durationDays": 3, "price": 1}},
		{"bad target", map[string]any{"name": "x", "durationDays": 3, "price": 1, "target": "VIP"}},
		{"negative uses", map[string]any{"name": "x", "durationDays": 3, "price": 1, "chatUses": -5}},
		{"disagreeing uses", map[string]any{"name": "x", "durationDays": 3, "price": 1, "chatUses": 5, "features": map[string]any{"chatUses": 6}}},
		{"bad currency", map[string]any{"name": "x", "durationDays": 3, "price": 1, "currency": "dollars"}},
		{"uses beyond the column", map[string]any{"name": "x", "durationDays": 3, "price": 1, "chatUses": 3000000000}},
		{"absurd price", map[string]any{"name": "x", "durationDays": 3, "price": 1e15}},
		{"malformed", `{"name": "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, env.Do("POST", "/api/admin/plan", admin, tc.body), 400, "bad_request")
		})
	}

	// The learner sees the B2C plan, buys it; deleting it hides it from sale only.
	var forSale []store.Plan
	env.Do("GET", "/api/membership", tok, nil).JSON(t, &forSale)
	if len(forSale) != 1 || forSale[0].ID != proto.ID {
		t.Fatalf("for sale: %+v", forSale)
	}
	r = env.Do("POST", "/api/membership", tok, map[string]string{"planId": proto.ID})
	want(t, r, 201)
	var bought store.Membership
	r.JSON(t, &bought)
	want(t, env.Do("POST", "/api/admin/plans/"+proto.ID+"/delete", admin, nil), 200)
	want(t, env.Do("POST", "/api/admin/plans/"+proto.ID+"/delete", admin, nil), 200) // twice is fine
	env.Do("GET", "/api/membership", tok, nil).JSON(t, &forSale)
	if len(forSale) != 0 {
		t.Fatalf("deleted plan still for sale: %+v", forSale)
	}
	if _, err := env.Store.ChargeChatUse(context.Background(), learner.ID, bought.ID, "t"); err != nil {
		t.Fatalf("membership of a deleted plan stopped working: %v", err)
	}
	var all []store.Plan
	env.Do("GET", "/api/admin/plans?includeDeleted=true", admin, nil).JSON(t, &all)
	if len(all) != 2 {
		t.Fatalf("admin plans with deleted: %d", len(all))
	}
	env.Do("GET", "/api/admin/plans", admin, nil).JSON(t, &all)
	if len(all) != 1 {
		t.Fatalf("admin plans without deleted: %d", len(all))
	}
	want(t, env.Do("GET", "/api/admin/plans?includeDeleted=maybe", admin, nil), 400)
	want(t, env.Do("POST", "/api/admin/plans/nope/delete", admin, nil), 400, "bad_request")
	want(t, env.Do("POST", "/api/admin/plans/00000000-0000-0000-0000-000000000000/delete", admin, nil), 404, "not_found")
}

func TestAdminUsersAndMemberships(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	_, admin := env.User("root@example.com", "admin")
	ann, annTok, annM := env.Learner("ann@example.com", intp(3))
	bob, _ := env.User("bob@example.com", "user")
	plan := env.Plan("Gift", intp(7), store.B2B) // admins may grant any target
	zero := "00000000-0000-0000-0000-000000000000"

	r := env.Do("POST", "/api/admin/users/"+bob.ID+"/plans/"+plan.ID+"/assign", admin, nil)
	want(t, r, 201)
	var granted store.Membership
	r.JSON(t, &granted)
	if !granted.GrantedByAdmin || granted.UserID != bob.ID || *granted.RemainingChatUses != 7 {
		t.Fatalf("granted %s", r.Body)
	}
	want(t, env.Do("POST", "/api/admin/users/"+zero+"/plans/"+plan.ID+"/assign", admin, nil), 404)
	want(t, env.Do("POST", "/api/admin/users/"+bob.ID+"/plans/"+zero+"/assign", admin, nil), 404)
	want(t, env.Do("POST", "/api/admin/users/x/plans/"+plan.ID+"/assign", admin, nil), 400)

	var users []struct {
		store.User
		Memberships []store.Membership `json:"memberships"`
	}
	env.Do("GET", "/api/admin/users?q=bob", admin, nil).JSON(t, &users)
	if len(users) != 1 || users[0].ID != bob.ID || len(users[0].Memberships) != 1 {
		t.Fatalf("search bob: %+v", users)
	}
	env.Do("GET", "/api/admin/users?limit=2", admin, nil).JSON(t, &users)
	if len(users) != 2 {
		t.Fatalf("limit 2: %d users", len(users))
	}
	want(t, env.Do("GET", "/api/admin/users?limit=0", admin, nil), 400)
	want(t, env.Do("GET", "/api/admin/users?limit=abc", admin, nil), 400)

	// Usage shows charges and refunds.
	c, _ := env.Store.ChargeChatUse(context.Background(), ann.ID, annM.ID, "turn x")
	env.Store.RefundChatUse(context.Background(), c.ID, "provider_error")    //nolint:errcheck
	env.Store.ChargeChatUse(context.Background(), ann.ID, annM.ID, "turn y") //nolint:errcheck
	var usage struct {
		Summary store.UsageSummary  `json:"summary"`
		Ledger  []store.LedgerEntry `json:"ledger"`
	}
	env.Do("GET", "/api/admin/users/"+ann.ID+"/usage", admin, nil).JSON(t, &usage)
	if usage.Summary.Charges != 2 || usage.Summary.Refunds != 1 || usage.Summary.Net != 1 || len(usage.Ledger) != 3 {
		t.Fatalf("usage = %+v", usage)
	}
	var detail struct {
		ID          string             `json:"id"`
		Memberships []store.Membership `json:"memberships"`
		Usage       store.UsageSummary `json:"usage"`
	}
	env.Do("GET", "/api/admin/users/"+ann.ID, admin, nil).JSON(t, &detail)
	if detail.ID != ann.ID || len(detail.Memberships) != 1 || detail.Usage.Net != 1 {
		t.Fatalf("detail = %+v", detail)
	}
	want(t, env.Do("GET", "/api/admin/users/"+zero, admin, nil), 404)
	want(t, env.Do("GET", "/api/admin/users/"+zero+"/usage", admin, nil), 404)

	// Revoking: a soft delete; the learner keeps the history but cannot use it.
	want(t, env.Do("POST", "/api/admin/users/"+bob.ID+"/memberships/"+annM.ID+"/delete", admin, nil), 404)
	r = env.Do("POST", "/api/admin/users/"+ann.ID+"/memberships/"+annM.ID+"/delete", admin, nil)
	want(t, r, 200)
	var revoked store.Membership
	r.JSON(t, &revoked)
	if revoked.Status != "revoked" || revoked.RevokedAt == nil {
		t.Fatalf("revoked = %s", r.Body)
	}
	var me struct {
		Memberships []store.Membership `json:"memberships"`
	}
	env.Do("GET", "/api/users/me", annTok, nil).JSON(t, &me)
	if len(me.Memberships) != 1 || me.Memberships[0].Status != "revoked" {
		t.Fatalf("learner's view after revocation: %+v", me)
	}
	if _, err := env.Store.ChargeChatUse(context.Background(), ann.ID, annM.ID, "t"); err == nil {
		t.Fatal("a revoked membership paid for a turn")
	}
}

func TestAudioHealthAndUnknownRoutes(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	id, err := env.Store.SaveAudio(context.Background(), "", "audio/wav", []byte("RIFFdata"))
	if err != nil {
		t.Fatal(err)
	}
	r := env.Do("GET", "/api/audio/"+id, "", nil)
	if r.Status != 200 || string(r.Body) != "RIFFdata" || r.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("audio: %d %q %q", r.Status, r.Body, r.Header.Get("Content-Type"))
	}
	r = env.Do("GET", "/api/audio/"+id, "", nil, "Range", "bytes=4-")
	if r.Status != http.StatusPartialContent || string(r.Body) != "data" {
		t.Fatalf("range: %d %q", r.Status, r.Body)
	}
	want(t, env.Do("GET", "/api/audio/00000000-0000-0000-0000-000000000000", "", nil), 404)
	want(t, env.Do("GET", "/api/audio/../../etc/passwd", "", nil), 404)
	want(t, env.Do("GET", "/api/nope", "", nil), 404, "not_found")
	want(t, env.Do("DELETE", "/api/users/me", "", nil), 404)
	want(t, env.Do("GET", "/healthz", "", nil), 200)
	want(t, env.Do("GET", "/readyz", "", nil), 200)
	r = env.Do("GET", "/metrics", "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), "aitutor_http_request_duration_seconds") {
		t.Fatalf("metrics: %d", r.Status)
	}
	if r := env.Do("GET", "/api/users/me", "", nil); r.Header.Get("X-Request-Id") == "" {
		t.Fatal("no request id header")
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	big := fmt.Sprintf(`{"name":"A","email":"a@example.com","password":"%s"}`, strings.Repeat("x", 2<<20))
	want(t, env.Do("POST", "/api/auth/signup", "", big), 413, "payload_too_large")
	// Without a Content-Length (chunked), the limit applies while reading.
	req, _ := http.NewRequest("POST", env.URL+"/api/auth/signup", io.MultiReader(strings.NewReader(big)))
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want(t, servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, 413, "payload_too_large")
}

var _ = server.Config{}
