package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aitutor/aitutor/store"
	"github.com/aitutor/aitutor/store/storetest"
)

func intp(n int) *int { return &n }

// fixture creates a user and a plan and buys it.
type fixture struct {
	s    *store.Store
	user store.User
	plan store.Plan
}

func newFixture(t *testing.T, chatUses *int, opts ...store.Option) fixture {
	t.Helper()
	s := storetest.New(t, opts...)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, store.NewUser{Name: "Ann", Email: "ann@example.com", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePlan(ctx, store.NewPlan{Name: "Basic", DurationDays: 30, ChatUses: chatUses, Target: store.B2C, Price: 990})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{s: s, user: u, plan: p}
}

func (f fixture) buy(t *testing.T) store.Membership {
	t.Helper()
	r, err := f.s.Purchase(context.Background(), f.user.ID, f.plan.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	return r.Membership
}

func TestConcurrentChargesNeverOverspend(t *testing.T) {
	t.Parallel()
	f := newFixture(t, intp(20))
	m := f.buy(t)
	ctx := context.Background()

	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, exhausted := 0, 0
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.s.ChargeChatUse(ctx, f.user.ID, m.ID, "test")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrQuotaExhausted):
				exhausted++
			default:
				t.Errorf("charge: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 20 || exhausted != 180 {
		t.Fatalf("charges: %d succeeded, %d exhausted; want 20 and 180", ok, exhausted)
	}
	got, err := f.s.UserMembership(ctx, f.user.ID, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.RemainingChatUses == nil || *got.RemainingChatUses != 0 {
		t.Fatalf("remaining = %v, want 0", got.RemainingChatUses)
	}
	if got.Status != store.StatusExhausted {
		t.Fatalf("status = %q, want exhausted", got.Status)
	}
	ledger, err := f.s.LedgerByMembership(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ledger) != 20 {
		t.Fatalf("ledger has %d rows, want 20", len(ledger))
	}
	seen := map[int]bool{}
	for _, e := range ledger {
		if e.Kind != "charge" || e.Delta != -1 || e.RemainingAfter == nil {
			t.Fatalf("bad ledger row %+v", e)
		}
		if seen[*e.RemainingAfter] {
			t.Fatalf("remaining %d recorded twice", *e.RemainingAfter)
		}
		seen[*e.RemainingAfter] = true
	}
}

func TestUnlimitedMembershipStaysUnlimited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	m := f.buy(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := f.s.ChargeChatUse(ctx, f.user.ID, m.ID, "test")
			if err != nil {
				t.Errorf("charge: %v", err)
				return
			}
			if c.Remaining != nil {
				t.Errorf("remaining = %d, want unlimited", *c.Remaining)
			}
		}()
	}
	wg.Wait()
	got, _ := f.s.UserMembership(ctx, f.user.ID, m.ID)
	if got.RemainingChatUses != nil {
		t.Fatalf("unlimited membership now has %d", *got.RemainingChatUses)
	}
	ledger, _ := f.s.LedgerByMembership(ctx, m.ID)
	if len(ledger) != 100 {
		t.Fatalf("ledger has %d rows, want 100", len(ledger))
	}
}

func TestChargeRefusals(t *testing.T) {
	t.Parallel()
	now := time.Now()
	clock := &now
	f := newFixture(t, intp(5), store.WithClock(func() time.Time { return *clock }))
	ctx := context.Background()
	other, err := f.s.CreateUser(ctx, store.NewUser{Name: "Bob", Email: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}

	m := f.buy(t)
	if _, err := f.s.ChargeChatUse(ctx, other.ID, m.ID, "t"); !errors.Is(err, store.ErrForbidden) {
		t.Errorf("foreign charge: %v, want ErrForbidden", err)
	}
	if _, err := f.s.ChargeChatUse(ctx, f.user.ID, "00000000-0000-0000-0000-000000000000", "t"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown membership: %v, want ErrNotFound", err)
	}
	if _, err := f.s.ChargeChatUse(ctx, f.user.ID, "not-a-uuid", "t"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bad uuid: %v, want ErrNotFound", err)
	}

	// Past its expiry, even before the job has marked it.
	later := now.AddDate(0, 0, 31)
	clock = &later
	if _, err := f.s.ChargeChatUse(ctx, f.user.ID, m.ID, "t"); !errors.Is(err, store.ErrMembershipExpired) {
		t.Errorf("expired: %v, want ErrMembershipExpired", err)
	}
	clock = &now

	admin, _ := f.s.CreateUser(ctx, store.NewUser{Name: "Root", Email: "root@example.com", Role: store.RoleAdmin})
	if _, err := f.s.RevokeMembership(ctx, admin.ID, f.user.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.ChargeChatUse(ctx, f.user.ID, m.ID, "t"); !errors.Is(err, store.ErrMembershipRevoked) {
		t.Errorf("revoked: %v, want ErrMembershipRevoked", err)
	}
	got, _ := f.s.UserMembership(ctx, f.user.ID, m.ID)
	if *got.RemainingChatUses != 5 || got.Status != store.StatusRevoked {
		t.Errorf("after refusals: remaining %d status %s, want 5 revoked", *got.RemainingChatUses, got.Status)
	}
	// The history stays.
	ms, _ := f.s.MembershipsByUser(ctx, f.user.ID)
	if len(ms) != 1 || ms[0].RevokedAt == nil {
		t.Errorf("revoked membership missing from history: %+v", ms)
	}
	if _, err := f.s.RevokeMembership(ctx, admin.ID, other.ID, m.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke under another user: %v, want ErrNotFound", err)
	}
}

func TestRefundOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, intp(3))
	m := f.buy(t)
	ctx := context.Background()
	c, err := f.s.ChargeChatUse(ctx, f.user.ID, m.ID, "turn")
	if err != nil {
		t.Fatal(err)
	}
	if *c.Remaining != 2 {
		t.Fatalf("remaining after charge = %d", *c.Remaining)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	refunded := 0
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.s.RefundChatUse(ctx, c.ID, "provider_error")
			if err == nil {
				mu.Lock()
				refunded++
				mu.Unlock()
			} else if !errors.Is(err, store.ErrAlreadyRefunded) {
				t.Errorf("refund: %v", err)
			}
		}()
	}
	wg.Wait()
	if refunded != 1 {
		t.Fatalf("%d refunds succeeded, want 1", refunded)
	}
	got, _ := f.s.UserMembership(ctx, f.user.ID, m.ID)
	if *got.RemainingChatUses != 3 {
		t.Fatalf("remaining = %d, want 3", *got.RemainingChatUses)
	}
	ledger, _ := f.s.LedgerByMembership(ctx, m.ID)
	if len(ledger) != 2 || ledger[1].Kind != "refund" || *ledger[1].RefundOf != c.ID || *ledger[1].RemainingAfter != 3 {
		t.Fatalf("ledger = %+v", ledger)
	}
	if _, err := f.s.RefundChatUse(ctx, 999999, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refund of unknown charge: %v", err)
	}
	sum, _ := f.s.UsageSummaryByUser(ctx, f.user.ID)
	if sum.Charges != 1 || sum.Refunds != 1 || sum.Net != 0 {
		t.Fatalf("summary = %+v", sum)
	}
}

func TestConcurrentPurchasesWithOneKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, intp(10))
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]int{}
	busy := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := f.s.Purchase(ctx, f.user.ID, f.plan.ID, "key-1")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ids[r.Membership.ID]++
			case errors.Is(err, store.ErrIdempotencyBusy):
				busy++
			default:
				t.Errorf("purchase: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(ids) != 1 {
		t.Fatalf("purchases created %d memberships: %v", len(ids), ids)
	}
	ms, _ := f.s.MembershipsByUser(ctx, f.user.ID)
	if len(ms) != 1 {
		t.Fatalf("user has %d memberships, want 1", len(ms))
	}
	// A later retry replays; the same key for another plan is refused.
	r, err := f.s.Purchase(ctx, f.user.ID, f.plan.ID, "key-1")
	if err != nil || !r.Replayed || r.Membership.ID != ms[0].ID {
		t.Fatalf("retry: %+v %v", r, err)
	}
	p2, _ := f.s.CreatePlan(ctx, store.NewPlan{Name: "Other", DurationDays: 7, Target: store.B2C})
	if _, err := f.s.Purchase(ctx, f.user.ID, p2.ID, "key-1"); !errors.Is(err, store.ErrIdempotencyReused) {
		t.Fatalf("reused key: %v", err)
	}
	// Without a key every request buys.
	r1, _ := f.s.Purchase(ctx, f.user.ID, f.plan.ID, "")
	r2, _ := f.s.Purchase(ctx, f.user.ID, f.plan.ID, "")
	if r1.Membership.ID == r2.Membership.ID {
		t.Fatal("two purchases without a key returned one membership")
	}
}

func TestPurchaseRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t, intp(10))
	ctx := context.Background()
	b2b, _ := f.s.CreatePlan(ctx, store.NewPlan{Name: "Team", DurationDays: 30, Target: store.B2B, Price: 10000})
	if _, err := f.s.Purchase(ctx, f.user.ID, b2b.ID, ""); !errors.Is(err, store.ErrPlanTarget) {
		t.Errorf("B2C buys B2B plan: %v", err)
	}
	m := f.buy(t)
	if m.Status != store.StatusActive || *m.RemainingChatUses != 10 || m.Plan.Name != "Basic" {
		t.Errorf("bought membership = %+v", m)
	}
	if d := m.ExpiresAt.Sub(m.StartedAt); d < 30*24*time.Hour-time.Hour || d > 30*24*time.Hour+time.Hour {
		t.Errorf("duration = %v", d)
	}
	if _, err := f.s.DeletePlan(ctx, f.plan.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Purchase(ctx, f.user.ID, f.plan.ID, ""); !errors.Is(err, store.ErrPlanNotForSale) {
		t.Errorf("deleted plan: %v", err)
	}
	// Existing memberships of a deleted plan keep working.
	if _, err := f.s.ChargeChatUse(ctx, f.user.ID, m.ID, "t"); err != nil {
		t.Errorf("charge on deleted plan's membership: %v", err)
	}
	plans, _ := f.s.ListPlans(ctx, store.B2C, false)
	if len(plans) != 0 {
		t.Errorf("deleted plan still listed: %+v", plans)
	}
	if _, err := f.s.Purchase(ctx, f.user.ID, "00000000-0000-0000-0000-000000000000", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown plan: %v", err)
	}
}

func TestCreatePlanChecks(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	for _, p := range []store.NewPlan{
		{Name: "neg price", DurationDays: 1, Target: store.B2C, Price: -1},
		{Name: "zero days", DurationDays: 0, Target: store.B2C},
		{Name: "bad target", DurationDays: 1, Target: "B2X"},
		{Name: "neg uses", DurationDays: 1, Target: store.B2C, ChatUses: intp(-1)},
	} {
		if _, err := s.CreatePlan(ctx, p); err == nil {
			t.Errorf("%s: accepted", p.Name)
		}
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, store.NewUser{Name: "Ann", Email: "Ann@Example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, store.NewUser{Name: "Ann2", Email: "ann@example.COM"}); !errors.Is(err, store.ErrEmailTaken) {
		t.Fatalf("duplicate e-mail: %v", err)
	}
	got, err := s.UserByEmail(ctx, "ANN@example.com")
	if err != nil || got.ID != u.ID || got.Role != store.RoleUser || got.CustomerType != store.B2C {
		t.Fatalf("by e-mail: %+v %v", got, err)
	}
	if _, err := s.UserByID(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bad id: %v", err)
	}
	s.CreateUser(ctx, store.NewUser{Name: "Bob_x", Email: "bob@example.com"}) //nolint:errcheck
	users, _ := s.ListUsers(ctx, "bob", 50, 0)
	if len(users) != 1 {
		t.Fatalf("search: %+v", users)
	}
	users, _ = s.ListUsers(ctx, "_", 50, 0) // LIKE wildcards are literal
	if len(users) != 1 || users[0].Name != "Bob_x" {
		t.Fatalf("search for _: %+v", users)
	}
}

func TestExpireMemberships(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	f := newFixture(t, intp(5), store.WithClock(func() time.Time { return clock }))
	ctx := context.Background()
	short, _ := f.s.CreatePlan(ctx, store.NewPlan{Name: "Day", DurationDays: 1, Target: store.B2C})
	a, _ := f.s.Purchase(ctx, f.user.ID, short.ID, "")
	b := f.buy(t)

	changed, err := f.s.ExpireMemberships(ctx, now.Add(24*time.Hour-time.Second))
	if err != nil || len(changed) != 0 {
		t.Fatalf("before expiry: %v %v", changed, err)
	}
	changed, _ = f.s.ExpireMemberships(ctx, now.Add(24*time.Hour))
	if len(changed) != 1 || changed[0].ID != a.Membership.ID {
		t.Fatalf("at expiry: %+v", changed)
	}
	changed, _ = f.s.ExpireMemberships(ctx, now.Add(24*time.Hour))
	if len(changed) != 0 {
		t.Fatalf("second run changed %+v", changed)
	}
	got, _ := f.s.UserMembership(ctx, f.user.ID, b.ID)
	if got.IsExpired {
		t.Fatal("30-day membership expired after a day")
	}
}

func TestClaimTickOncePerTick(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	tick := time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC)
	c, err := s.ClaimTick(ctx, "expire", tick)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimTick(ctx, "expire", tick); !errors.Is(err, store.ErrJobRunning) {
		t.Fatalf("while held: %v", err)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimTick(ctx, "expire", tick); !errors.Is(err, store.ErrTickTaken) {
		t.Fatalf("same tick again: %v", err)
	}
	c, err = s.ClaimTick(ctx, "expire", tick.Add(time.Hour))
	if err != nil {
		t.Fatalf("next tick: %v", err)
	}
	c.Release()
}

func TestMigrateIsIdempotentAndRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	r, err := s.Migrate(ctx, nil)
	if err != nil || len(r.Applied) != 0 {
		t.Fatalf("second migrate: %+v %v", r, err)
	}
	if _, err := s.DB().Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, true)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx, nil); err == nil {
		t.Fatal("migrate ran against a newer schema")
	}
}
