package store_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/aitutor/aitutor/migrations"
	"github.com/aitutor/aitutor/store"
	"github.com/aitutor/aitutor/store/storetest"
)

// clock is a settable clock for store.WithClock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func newUser(t *testing.T, s *store.Store, email string, customerType ...string) store.User {
	t.Helper()
	ct := store.B2C
	if len(customerType) > 0 {
		ct = customerType[0]
	}
	u, err := s.CreateUser(context.Background(), store.NewUser{Name: strings.Split(email, "@")[0], Email: email, CustomerType: ct})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func newCompany(t *testing.T, s *store.Store, name string, seats *int, codes ...store.NewCompanyCode) store.CompanyDetail {
	t.Helper()
	c, err := s.CreateCompany(context.Background(), store.NewCompany{Name: name, SeatLimit: seats, Codes: codes})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newPlan(t *testing.T, s *store.Store, p store.NewPlan) store.Plan {
	t.Helper()
	if p.DurationDays == 0 {
		p.DurationDays = 30
	}
	plan, err := s.CreatePlan(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

var generatedCode = regexp.MustCompile(`^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{4}-[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{4}-[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{4}$`)

func TestGeneratedCodes(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	counts := map[rune]int{}
	const n = 20000
	for range n {
		c := store.GenerateCompanyCode()
		if !generatedCode.MatchString(c) {
			t.Fatalf("generated code %q is not 12 unambiguous symbols in groups of four", c)
		}
		if seen[c] {
			t.Fatalf("code %q generated twice in %d", c, n)
		}
		seen[c] = true
		for _, r := range store.CodeLookup(c) {
			counts[r]++
		}
	}
	// Every symbol of the 31 is used, about equally (12 × 20000 / 31 ≈ 7742 each).
	if len(counts) != 31 {
		t.Fatalf("%d symbols used, want 31: %v", len(counts), counts)
	}
	for r, k := range counts {
		if k < 7000 || k > 8500 {
			t.Errorf("symbol %c drawn %d times, want about 7742", r, k)
		}
	}
	if got := store.CodeLookup("acme-demo 2026"); got != "ACMEDEMO2026" {
		t.Fatalf("lookup form %q", got)
	}
}

func TestCreateCompanyAndCodes(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := storetest.New(t, store.WithClock(clk.now))
	ctx := context.Background()

	acme := newCompany(t, s, "Acme Corp", intp(10))
	if len(acme.Codes) != 1 || !generatedCode.MatchString(acme.Codes[0].Code) || acme.Codes[0].Status != store.CodeActive ||
		acme.SeatsUsed != 0 || *acme.SeatLimit != 10 {
		t.Fatalf("created %+v", acme)
	}
	// Names are unique whatever their case; a refused company leaves nothing behind.
	if _, err := s.CreateCompany(ctx, store.NewCompany{Name: "ACME corp", Codes: []store.NewCompanyCode{{Code: "LEFT-BEHIND-1"}}}); !errors.Is(err, store.ErrCompanyNameTaken) {
		t.Fatalf("same name: %v", err)
	}
	// Chosen codes are stored in upper case and compared without case, spaces and hyphens.
	soon := clk.now().Add(time.Hour)
	globex := newCompany(t, s, "Globex", nil, store.NewCompanyCode{Code: "globex-2026"}, store.NewCompanyCode{Code: "GLOBEX-SOON", ExpiresAt: &soon})
	if len(globex.Codes) != 2 || globex.Codes[0].Code != "GLOBEX-2026" || globex.Codes[1].ExpiresAt == nil {
		t.Fatalf("codes %+v", globex.Codes)
	}
	for _, code := range []string{"GLOBEX2026", "globex 2026", strings.ToLower(acme.Codes[0].Code)} {
		if _, err := s.AddCompanyCode(ctx, acme.ID, store.NewCompanyCode{Code: code}, ""); !errors.Is(err, store.ErrCodeTaken) {
			t.Fatalf("code %q in use: %v", code, err)
		}
	}
	if _, err := s.AddCompanyCode(ctx, acme.ID, store.NewCompanyCode{Code: "LEFT-BEHIND-1"}, ""); err != nil {
		t.Fatalf("the refused company's code was kept: %v", err)
	}
	if _, err := s.AddCompanyCode(ctx, "00000000-0000-0000-0000-000000000000", store.NewCompanyCode{}, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("code of an unknown company: %v", err)
	}
	// The database refuses codes too short to be worth guessing.
	if _, err := s.AddCompanyCode(ctx, acme.ID, store.NewCompanyCode{Code: "AB-12"}, ""); err == nil {
		t.Fatal("a 4-symbol code was stored")
	}

	ann := newUser(t, s, "ann@example.com")
	bob := newUser(t, s, "bob@example.com")
	if _, _, err := s.JoinCompany(ctx, ann.ID, "NOPE-NOPE-NOPE"); !errors.Is(err, store.ErrInvalidCode) {
		t.Fatalf("unknown code: %v", err)
	}
	if _, _, err := s.JoinCompany(ctx, ann.ID, " - "); !errors.Is(err, store.ErrInvalidCode) {
		t.Fatalf("empty code: %v", err)
	}
	// Expired.
	clk.advance(2 * time.Hour)
	if _, _, err := s.JoinCompany(ctx, ann.ID, "globex-soon"); !errors.Is(err, store.ErrCodeExpired) {
		t.Fatalf("expired code: %v", err)
	}
	// Disabled, twice; of another company it is not found.
	if _, err := s.DisableCompanyCode(ctx, acme.ID, globex.Codes[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("disabling another company's code: %v", err)
	}
	d1, err := s.DisableCompanyCode(ctx, globex.ID, globex.Codes[0].ID)
	if err != nil || d1.Status != store.CodeDisabled || d1.DisabledAt == nil {
		t.Fatalf("disable: %+v %v", d1, err)
	}
	clk.advance(time.Minute)
	if d2, _ := s.DisableCompanyCode(ctx, globex.ID, globex.Codes[0].ID); !d2.DisabledAt.Equal(*d1.DisabledAt) {
		t.Fatalf("disabling again moved disabledAt from %v to %v", d1.DisabledAt, d2.DisabledAt)
	}
	if _, _, err := s.JoinCompany(ctx, ann.ID, "GLOBEX-2026"); !errors.Is(err, store.ErrCodeDisabled) {
		t.Fatalf("disabled code: %v", err)
	}
	detail, err := s.CompanyDetail(ctx, globex.ID)
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[string]string{}
	for _, c := range detail.Codes {
		statuses[c.Code] = c.Status
	}
	if statuses["GLOBEX-2026"] != store.CodeDisabled || statuses["GLOBEX-SOON"] != store.CodeExpired {
		t.Fatalf("code statuses %v", statuses)
	}

	// Join with the code in another form; again is a no-op; another company is refused.
	c, u, err := s.JoinCompany(ctx, ann.ID, strings.ToLower(acme.Codes[0].Code))
	if err != nil || c.ID != acme.ID || c.SeatsUsed != 1 || u.CustomerType != store.B2B || u.CompanyID == nil || *u.CompanyID != acme.ID {
		t.Fatalf("join: %+v %+v %v", c, u, err)
	}
	if c, _, err := s.JoinCompany(ctx, ann.ID, strings.ReplaceAll(acme.Codes[0].Code, "-", "")); err != nil || c.SeatsUsed != 1 {
		t.Fatalf("joining again: %+v %v", c, err)
	}
	if _, err := s.AddCompanyCode(ctx, globex.ID, store.NewCompanyCode{Code: "GLOBEX-OPEN"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.JoinCompany(ctx, ann.ID, "GLOBEX-OPEN"); !errors.Is(err, store.ErrAlreadyInCompany) {
		t.Fatalf("joining a second company: %v", err)
	}
	if _, _, err := s.JoinCompany(ctx, bob.ID, "globex-open"); err != nil {
		t.Fatal(err)
	}
	detail, _ = s.CompanyDetail(ctx, acme.ID)
	if len(detail.Members) != 1 || detail.Members[0].ID != ann.ID || detail.Members[0].JoinedAt.IsZero() || detail.SeatsUsed != 1 {
		t.Fatalf("acme members %+v", detail)
	}
	all, _ := s.ListCompanies(ctx)
	if len(all) != 2 || all[0].Name != "Acme Corp" || all[1].SeatsUsed != 1 {
		t.Fatalf("companies %+v", all)
	}

	// Leave: B2C again, the seat is free; leaving twice is refused.
	u, err = s.LeaveCompany(ctx, ann.ID)
	if err != nil || u.CustomerType != store.B2C || u.CompanyID != nil {
		t.Fatalf("leave: %+v %v", u, err)
	}
	if _, err := s.LeaveCompany(ctx, ann.ID); !errors.Is(err, store.ErrNotInCompany) {
		t.Fatalf("leaving twice: %v", err)
	}
	if c, _ := s.Company(ctx, acme.ID); c.SeatsUsed != 0 {
		t.Fatalf("seats after leaving: %d", c.SeatsUsed)
	}
	// Seed's EnsureCompany finds it whatever the case.
	if e, err := s.EnsureCompany(ctx, "acme corp", nil); err != nil || e.ID != acme.ID {
		t.Fatalf("ensure existing: %+v %v", e, err)
	}
	if e, err := s.EnsureCompany(ctx, "Initech", intp(3)); err != nil || e.Name != "Initech" || *e.SeatLimit != 3 {
		t.Fatalf("ensure new: %+v %v", e, err)
	}
}

// TestSeatLimitUnderConcurrency: 20 learners join a company of 5 seats at once; exactly 5 get
// in, and the count the database keeps matches its members.
func TestSeatLimitUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	company := newCompany(t, s, "Small", intp(5))
	code := company.Codes[0].Code
	users := make([]store.User, 20)
	for i := range users {
		users[i] = newUser(t, s, fmt.Sprintf("u%d@example.com", i))
	}
	var joined, full atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, _, err := s.JoinCompany(ctx, u.ID, code)
			switch {
			case err == nil:
				joined.Add(1)
			case errors.Is(err, store.ErrCompanyFull):
				full.Add(1)
			default:
				t.Errorf("join: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if joined.Load() != 5 || full.Load() != 15 {
		t.Fatalf("%d joined and %d were refused as full; want 5 and 15", joined.Load(), full.Load())
	}
	detail, _ := s.CompanyDetail(ctx, company.ID)
	if detail.SeatsUsed != 5 || len(detail.Members) != 5 {
		t.Fatalf("seats used %d, members %d", detail.SeatsUsed, len(detail.Members))
	}
	for _, m := range detail.Members {
		if m.CustomerType != store.B2B {
			t.Fatalf("member %s is %s", m.Email, m.CustomerType)
		}
	}
	// A refused learner stays B2C; a seat freed is taken again.
	var outside store.User
	for _, u := range users {
		if got, _ := s.UserByID(ctx, u.ID); got.CompanyID == nil {
			if got.CustomerType != store.B2C {
				t.Fatalf("refused learner is %s", got.CustomerType)
			}
			outside = got
		}
	}
	if _, err := s.LeaveCompany(ctx, detail.Members[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.JoinCompany(ctx, outside.ID, code); err != nil {
		t.Fatalf("joining a freed seat: %v", err)
	}

	// The database holds the invariants whoever writes: no member beyond the seats, no B2C
	// member, and the seat count follows the members.
	db := s.DB()
	b2c := newUser(t, s, "plain@example.com")
	if _, err := db.Exec(`UPDATE users SET company_id = $1, company_joined_at = now(), customer_type = 'B2B' WHERE id = $2`, company.ID, b2c.ID); err == nil {
		t.Fatal("a sixth member was written past the seat limit")
	}
	other := newCompany(t, s, "Other", nil)
	if _, err := db.Exec(`UPDATE users SET company_id = $1, company_joined_at = now() WHERE id = $2`, other.ID, b2c.ID); err == nil {
		t.Fatal("a B2C learner was made a member")
	}
	if c, _ := s.Company(ctx, company.ID); c.SeatsUsed != 5 {
		t.Fatalf("seats used %d after refused writes", c.SeatsUsed)
	}
	if _, err := db.Exec(`DELETE FROM users WHERE id = $1`, outside.ID); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Company(ctx, company.ID); c.SeatsUsed != 4 {
		t.Fatalf("seats used %d after a member's account was deleted, want 4", c.SeatsUsed)
	}
}

func TestCompanyPlanRules(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	acme := newCompany(t, s, "Acme", nil)
	globex := newCompany(t, s, "Globex", nil)
	consumer := newPlan(t, s, store.NewPlan{Name: "Consumer", Target: store.B2C, Price: 100})
	generic := newPlan(t, s, store.NewPlan{Name: "Generic B2B", Target: store.B2B, Price: 200})
	acmePlan := newPlan(t, s, store.NewPlan{Name: "Acme Team", Target: store.B2B, Price: 300, CompanyID: acme.ID})
	globexPlan := newPlan(t, s, store.NewPlan{Name: "Globex Team", Target: store.B2B, Price: 400, CompanyID: globex.ID})
	if acmePlan.CompanyID == nil || *acmePlan.CompanyID != acme.ID {
		t.Fatalf("company plan %+v", acmePlan)
	}
	if _, err := s.CreatePlan(ctx, store.NewPlan{Name: "B2C of a company", DurationDays: 1, Target: store.B2C, CompanyID: acme.ID}); err == nil {
		t.Fatal("a company's B2C plan was created")
	}
	if _, err := s.CreatePlan(ctx, store.NewPlan{Name: "No company", DurationDays: 1, Target: store.B2B, CompanyID: "00000000-0000-0000-0000-000000000000"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("plan of an unknown company: %v", err)
	}

	consumerUser := newUser(t, s, "c@example.com")
	acmeUser := newUser(t, s, "a@example.com")
	globexUser := newUser(t, s, "g@example.com")
	legacyB2B := newUser(t, s, "l@example.com", store.B2B) // B2B without a company
	for u, code := range map[string]string{acmeUser.ID: acme.Codes[0].Code, globexUser.ID: globex.Codes[0].Code} {
		if _, _, err := s.JoinCompany(ctx, u, code); err != nil {
			t.Fatal(err)
		}
	}
	reload := func(u store.User) store.User {
		got, err := s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	acmeUser, globexUser = reload(acmeUser), reload(globexUser)

	names := func(u store.User) string {
		plans, err := s.PlansFor(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range plans {
			out = append(out, p.Name)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		user  store.User
		sees  string
		buys  []store.Plan
		nobuy map[string]error
	}{
		{consumerUser, "Consumer", []store.Plan{consumer}, map[string]error{generic.ID: store.ErrPlanTarget, acmePlan.ID: store.ErrPlanTarget}},
		{acmeUser, "Generic B2B,Acme Team", []store.Plan{generic, acmePlan}, map[string]error{consumer.ID: store.ErrPlanTarget, globexPlan.ID: store.ErrPlanOtherCompany}},
		{globexUser, "Generic B2B,Globex Team", []store.Plan{globexPlan}, map[string]error{acmePlan.ID: store.ErrPlanOtherCompany}},
		{legacyB2B, "Generic B2B", []store.Plan{generic}, map[string]error{acmePlan.ID: store.ErrPlanOtherCompany}},
	} {
		if got := names(tc.user); got != tc.sees {
			t.Errorf("%s sees %q, want %q", tc.user.Email, got, tc.sees)
		}
		for _, p := range tc.buys {
			r, err := s.Purchase(ctx, tc.user.ID, p.ID, "")
			if err != nil {
				t.Errorf("%s buys %s: %v", tc.user.Email, p.Name, err)
				continue
			}
			if (p.CompanyID == nil) != (r.Membership.CompanyID == nil) {
				t.Errorf("%s's membership of %s comes through company %v", tc.user.Email, p.Name, r.Membership.CompanyID)
			}
		}
		for planID, want := range tc.nobuy {
			if _, err := s.Purchase(ctx, tc.user.ID, planID, ""); !errors.Is(err, want) {
				t.Errorf("%s buys %s: %v, want %v", tc.user.Email, planID, err, want)
			}
		}
	}
	// Deleted company plans are not sold.
	if _, err := s.DeletePlan(ctx, acmePlan.ID); err != nil {
		t.Fatal(err)
	}
	if got := names(acmeUser); got != "Generic B2B" {
		t.Errorf("after deleting Acme Team, Acme's member sees %q", got)
	}
	// After leaving, the company's membership stays usable until it expires.
	ms, _ := s.MembershipsByUser(ctx, acmeUser.ID)
	if _, err := s.LeaveCompany(ctx, acmeUser.ID); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if _, err := s.ChargeChatUse(ctx, acmeUser.ID, m.ID, "after leaving"); err != nil {
			t.Errorf("membership %s (%s) after leaving: %v", m.ID, m.Plan.Name, err)
		}
	}
	if got := names(reload(acmeUser)); got != "Consumer" {
		t.Errorf("after leaving, sees %q", got)
	}
}

func TestRemoveMemberAndAssignToCompany(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	admin := newUser(t, s, "admin@example.com")
	acme := newCompany(t, s, "Acme", intp(10))
	globex := newCompany(t, s, "Globex", nil)
	generic := newPlan(t, s, store.NewPlan{Name: "Generic", Target: store.B2C, Price: 0, ChatUses: intp(5)})
	acmePlan := newPlan(t, s, store.NewPlan{Name: "Acme Team", Target: store.B2B, Price: 0, CompanyID: acme.ID, OncePerUser: true})
	globexPlan := newPlan(t, s, store.NewPlan{Name: "Globex Team", Target: store.B2B, CompanyID: globex.ID})
	var members []store.User
	for i := range 3 {
		u := newUser(t, s, fmt.Sprintf("m%d@example.com", i))
		if _, _, err := s.JoinCompany(ctx, u.ID, acme.Codes[0].Code); err != nil {
			t.Fatal(err)
		}
		members = append(members, u)
	}
	outsider := newUser(t, s, "out@example.com")

	n, err := s.AssignPlanToCompany(ctx, admin.ID, acme.ID, acmePlan.ID)
	if err != nil || n != 3 {
		t.Fatalf("assign to all: %d %v", n, err)
	}
	// A plan of no company may be granted to the members too, a once-per-user one again.
	if n, err := s.AssignPlanToCompany(ctx, admin.ID, acme.ID, generic.ID); err != nil || n != 3 {
		t.Fatalf("assign a plan of no company: %d %v", n, err)
	}
	if n, err := s.AssignPlanToCompany(ctx, admin.ID, acme.ID, acmePlan.ID); err != nil || n != 3 {
		t.Fatalf("assign a once-per-user plan again: %d %v", n, err)
	}
	if _, err := s.AssignPlanToCompany(ctx, admin.ID, acme.ID, globexPlan.ID); !errors.Is(err, store.ErrPlanOfOtherCompany) {
		t.Fatalf("another company's plan: %v", err)
	}
	if n, err := s.AssignPlanToCompany(ctx, admin.ID, globex.ID, globexPlan.ID); err != nil || n != 0 {
		t.Fatalf("a company without members: %d %v", n, err)
	}
	if _, err := s.AssignPlanToCompany(ctx, admin.ID, "00000000-0000-0000-0000-000000000000", generic.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown company: %v", err)
	}
	if _, err := s.AssignPlanToCompany(ctx, admin.ID, acme.ID, "00000000-0000-0000-0000-000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown plan: %v", err)
	}
	s.DeletePlan(ctx, generic.ID) //nolint:errcheck
	if _, err := s.AssignPlanToCompany(ctx, admin.ID, acme.ID, generic.ID); !errors.Is(err, store.ErrPlanNotForSale) {
		t.Fatalf("deleted plan: %v", err)
	}
	for _, u := range members {
		ms, _ := s.MembershipsByUser(ctx, u.ID)
		if len(ms) != 3 {
			t.Fatalf("%s has %d memberships, want 3", u.Email, len(ms))
		}
		for _, m := range ms {
			if !m.GrantedByAdmin || m.CompanyID == nil || *m.CompanyID != acme.ID || m.Status != store.StatusActive {
				t.Fatalf("granted membership %+v", m)
			}
		}
	}
	if ms, _ := s.MembershipsByUser(ctx, outsider.ID); len(ms) != 0 {
		t.Fatalf("an outsider got %d memberships", len(ms))
	}
	// A membership the member bought, not through the company, is never revoked with it.
	own := newPlan(t, s, store.NewPlan{Name: "Own", Target: store.B2B, Price: 100})
	bought, err := s.Purchase(ctx, members[0].ID, own.ID, "")
	if err != nil {
		t.Fatal(err)
	}

	// Removing keeps the memberships by default, revokes them on request.
	u, revoked, err := s.RemoveCompanyMember(ctx, admin.ID, acme.ID, members[1].ID, false)
	if err != nil || revoked != 0 || u.CustomerType != store.B2C || u.CompanyID != nil {
		t.Fatalf("remove: %+v %d %v", u, revoked, err)
	}
	if ms, _ := s.MembershipsByUser(ctx, members[1].ID); ms[0].Status != store.StatusActive {
		t.Fatalf("removal without revoking revoked %+v", ms[0])
	}
	_, revoked, err = s.RemoveCompanyMember(ctx, admin.ID, acme.ID, members[0].ID, true)
	if err != nil || revoked != 3 {
		t.Fatalf("remove and revoke: %d %v", revoked, err)
	}
	ms, _ := s.MembershipsByUser(ctx, members[0].ID)
	for _, m := range ms {
		if want := map[bool]string{true: store.StatusActive, false: store.StatusRevoked}[m.ID == bought.Membership.ID]; m.Status != want {
			t.Errorf("after removal, %s is %s, want %s", m.Plan.Name, m.Status, want)
		}
	}
	if _, _, err := s.RemoveCompanyMember(ctx, admin.ID, acme.ID, members[0].ID, true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removing again: %v", err)
	}
	if _, _, err := s.RemoveCompanyMember(ctx, admin.ID, globex.ID, members[2].ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removing from another company: %v", err)
	}
	if c, _ := s.Company(ctx, acme.ID); c.SeatsUsed != 1 {
		t.Fatalf("seats used %d, want 1", c.SeatsUsed)
	}
}

// TestOncePerUserPlans: a trial is bought once per user, whatever the concurrency; idempotency
// keys still replay; administrators may grant it again.
func TestOncePerUserPlans(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	trial := newPlan(t, s, store.NewPlan{Name: "Trial", Target: store.B2C, Price: 0, ChatUses: intp(5), OncePerUser: true})
	if !trial.OncePerUser {
		t.Fatalf("plan %+v", trial)
	}
	ann := newUser(t, s, "ann@example.com")

	var wg sync.WaitGroup
	var ok, used atomic.Int32
	start := make(chan struct{})
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			key := ""
			if i%2 == 0 {
				key = fmt.Sprintf("key-%d", i) // with and without keys alike
			}
			_, err := s.Purchase(ctx, ann.ID, trial.ID, key)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrPlanAlreadyUsed):
				used.Add(1)
			default:
				t.Errorf("purchase: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || used.Load() != 19 {
		t.Fatalf("%d purchases succeeded, %d were refused; want 1 and 19", ok.Load(), used.Load())
	}
	if ms, _ := s.MembershipsByUser(ctx, ann.ID); len(ms) != 1 {
		t.Fatalf("%d memberships, want 1", len(ms))
	}
	if got, _ := s.UsedOncePlans(ctx, ann.ID); !got[trial.ID] || len(got) != 1 {
		t.Fatalf("used plans %v", got)
	}

	// A retry with the key of the purchase that won replays it.
	bob := newUser(t, s, "bob@example.com")
	first, err := s.Purchase(ctx, bob.ID, trial.ID, "bob-trial")
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Purchase(ctx, bob.ID, trial.ID, "bob-trial")
	if err != nil || !again.Replayed || again.Membership.ID != first.Membership.ID {
		t.Fatalf("replay: %+v %v", again, err)
	}
	if _, err := s.Purchase(ctx, bob.ID, trial.ID, "bob-trial-2"); !errors.Is(err, store.ErrPlanAlreadyUsed) {
		t.Fatalf("a new key: %v", err)
	}
	// Administrators may grant it again; that is no purchase and changes nothing for sale.
	admin := newUser(t, s, "admin@example.com")
	if _, err := s.AssignPlan(ctx, admin.ID, bob.ID, trial.ID); err != nil {
		t.Fatalf("admin grant of a used trial: %v", err)
	}
	// Other plans are not limited.
	plain := newPlan(t, s, store.NewPlan{Name: "Plain", Target: store.B2C, Price: 0})
	for range 2 {
		if _, err := s.Purchase(ctx, bob.ID, plain.ID, ""); err != nil {
			t.Fatal(err)
		}
	}
	// The database refuses a second purchase row of a trial whoever writes it.
	ms, _ := s.MembershipsByUser(ctx, bob.ID)
	if _, err := s.DB().Exec(`INSERT INTO purchases (user_id, plan_id, membership_id, price, currency, request_hash, once_per_user)
		VALUES ($1, $2, $3, 0, 'USD', 'x', true)`, bob.ID, trial.ID, ms[0].ID); err == nil {
		t.Fatal("a second purchase of a trial was stored")
	}
}

func TestReturnDaily(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	u := newUser(t, s, "ann@example.com")
	for range 2 {
		if err := s.TakeDaily(ctx, u.ID, "c", 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.TakeDaily(ctx, u.ID, "c", 2); !errors.Is(err, store.ErrLimitReached) {
		t.Fatalf("third: %v", err)
	}
	if err := s.ReturnDaily(ctx, u.ID, "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.TakeDaily(ctx, u.ID, "c", 2); err != nil {
		t.Fatalf("after giving one back: %v", err)
	}
	for range 5 { // never below zero
		s.ReturnDaily(ctx, u.ID, "c") //nolint:errcheck
	}
	for range 2 {
		if err := s.TakeDaily(ctx, u.ID, "c", 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.TakeDaily(ctx, u.ID, "c", 2); !errors.Is(err, store.ErrLimitReached) {
		t.Fatalf("after returning more than taken: %v", err)
	}
}

// TestCompaniesMigrationDown: 00006 goes down and up again on a database with companies in it.
func TestCompaniesMigrationDown(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	acme := newCompany(t, s, "Acme", nil)
	u := newUser(t, s, "ann@example.com")
	if _, _, err := s.JoinCompany(ctx, u.ID, acme.Codes[0].Code); err != nil {
		t.Fatal(err)
	}
	newPlan(t, s, store.NewPlan{Name: "Trial", Target: store.B2C, OncePerUser: true})
	p, err := goose.NewProvider(goose.DialectPostgres, s.DB().DB, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 5); err != nil {
		t.Fatalf("down: %v", err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
