// Package seed creates the demo data of `aitutor seed` and signs tokens for `aitutor token`.
package seed

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/aitutor/aitutor/server"
	"github.com/aitutor/aitutor/store"
)

// Demo accounts created by Seed.
const (
	DemoLearnerEmail = "learner@example.com"
	DemoAdminEmail   = "admin@example.com"
	devLearnerPass   = "learner-demo-pass"
	devAdminPass     = "admin-demo-pass"
	DemoCompanyName  = "Acme Corp"
	// DevCompanyCode is the demo company's join code in development; elsewhere it is generated.
	DevCompanyCode = "ACME-DEMO-2026"
)

// Result says what Seed created or found.
type Result struct {
	Plans           []store.Plan
	Learner, Admin  store.User
	LearnerPassword string // set only when Seed created the account
	AdminPassword   string
	Membership      store.Membership
	Company         store.Company
	CompanyCode     string     // a join code of the demo company, active
	CompanyPlan     store.Plan // the demo company's own plan
}

// Passwords are the demo accounts' passwords; empty ones are generated, except in
// development, where fixed demo passwords make `make run` easy to try.
type Passwords struct{ Learner, Admin string }

func intp(n int) *int { return &n }

// Seed creates sample plans (B2C and B2B, limited and unlimited, a once-per-user trial), a demo
// learner with an active limited membership, an admin, and a demo company ("Acme Corp") with a
// join code and a plan of its own. Running it again changes nothing that exists.
func Seed(ctx context.Context, st *store.Store, dev bool, pw Passwords) (Result, error) {
	var res Result
	// Prices in won: KRW has no minor unit, so a price is a number of won, which is also what
	// the prototype's frontend prints (₩ and the number); our UI formats by the currency.
	plans := []store.NewPlan{
		{Name: "Starter", Description: "30 chats a month (a chat is one answer of the tutor).", DurationDays: 30, ChatUses: intp(30), Target: store.B2C, Price: 9900, Currency: "KRW"},
		{Name: "Unlimited", Description: "Talk as much as you like for a month.", DurationDays: 30, Target: store.B2C, Price: 29000, Currency: "KRW"},
		{Name: "Trial", Description: "Five chats to try the tutor, once per account.", DurationDays: 7, ChatUses: intp(5), Target: store.B2C, Price: 0, Currency: "KRW", OncePerUser: true},
		{Name: "Team", Description: "200 chats a month for a company's learners.", DurationDays: 30, ChatUses: intp(200), Target: store.B2B, Price: 199000, Currency: "KRW"},
		{Name: "Team Unlimited", Description: "Unlimited chats for a company's learners.", DurationDays: 365, Target: store.B2B, Price: 1490000, Currency: "KRW"},
	}
	for _, p := range plans {
		plan, err := st.EnsurePlan(ctx, p)
		if err != nil {
			return res, err
		}
		res.Plans = append(res.Plans, plan)
	}
	if err := seedCompany(ctx, st, dev, &res); err != nil {
		return res, err
	}
	var err error
	if res.Learner, res.LearnerPassword, err = ensureAccount(ctx, st, "Demo Learner", DemoLearnerEmail, store.RoleUser, pick(pw.Learner, dev, devLearnerPass)); err != nil {
		return res, err
	}
	if res.Admin, res.AdminPassword, err = ensureAccount(ctx, st, "Admin", DemoAdminEmail, store.RoleAdmin, pick(pw.Admin, dev, devAdminPass)); err != nil {
		return res, err
	}
	ms, err := st.MembershipsByUser(ctx, res.Learner.ID)
	if err != nil {
		return res, err
	}
	for _, m := range ms {
		if m.Status == store.StatusActive && m.RemainingChatUses != nil {
			res.Membership = m
			return res, nil
		}
	}
	res.Membership, err = st.AssignPlan(ctx, res.Admin.ID, res.Learner.ID, res.Plans[0].ID)
	return res, err
}

// seedCompany creates the demo company with a plan of its own and makes sure it has an active
// join code: the fixed demo code in development, else the one it has or a generated one.
func seedCompany(ctx context.Context, st *store.Store, dev bool, res *Result) error {
	company, err := st.EnsureCompany(ctx, DemoCompanyName, intp(50))
	if err != nil {
		return err
	}
	res.Company = company
	res.CompanyPlan, err = st.EnsurePlan(ctx, store.NewPlan{
		Name: "Acme Team", Description: "100 chats a month, paid by Acme Corp for its people.",
		DurationDays: 30, ChatUses: intp(100), Target: store.B2B, Price: 0, Currency: "KRW", CompanyID: company.ID,
	})
	if err != nil {
		return err
	}
	detail, err := st.CompanyDetail(ctx, company.ID)
	if err != nil {
		return err
	}
	// The demo code when it is active (development), else any active code, else a new one.
	for _, devOnly := range []bool{true, false} {
		for _, c := range detail.Codes {
			if c.Status == store.CodeActive && (!devOnly || (dev && c.Code == DevCompanyCode)) {
				res.CompanyCode = c.Code
				return nil
			}
		}
	}
	want := store.NewCompanyCode{} // generated
	if dev {
		want.Code = DevCompanyCode
	}
	code, err := st.AddCompanyCode(ctx, company.ID, want, "")
	if errors.Is(err, store.ErrCodeTaken) && want.Code != "" {
		// The demo code was disabled or expired by an administrator: keep it so, make another.
		code, err = st.AddCompanyCode(ctx, company.ID, store.NewCompanyCode{}, "")
	}
	if err != nil {
		return fmt.Errorf("seed: a join code for %s: %w", company.Name, err)
	}
	res.CompanyCode = code.Code
	return nil
}

func pick(given string, dev bool, devDefault string) string {
	if given != "" {
		return given
	}
	if dev {
		return devDefault
	}
	return ""
}

// ensureAccount creates the account unless it exists; the password is returned only when it
// was set now.
func ensureAccount(ctx context.Context, st *store.Store, name, email, role, password string) (store.User, string, error) {
	u, err := st.UserByEmail(ctx, email)
	if err == nil {
		return u, "", nil
	}
	if err != store.ErrNotFound {
		return store.User{}, "", err
	}
	if password == "" {
		b := make([]byte, 12)
		rand.Read(b) //nolint:errcheck
		password = base64.RawURLEncoding.EncodeToString(b)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return store.User{}, "", err
	}
	u, err = st.EnsureUser(ctx, store.NewUser{Name: name, Email: email, PasswordHash: string(hash), CustomerType: store.B2C, Role: role})
	if err != nil {
		return store.User{}, "", fmt.Errorf("seed %s: %w", email, err)
	}
	return u, password, nil
}

// Token signs a token for the user with that e-mail (aitutor token).
func Token(ctx context.Context, st *store.Store, cfg server.Config, email string) (string, store.User, error) {
	u, err := st.UserByEmail(ctx, email)
	if err != nil {
		return "", store.User{}, fmt.Errorf("no user with e-mail %s: %w", email, err)
	}
	tok, err := server.NewTokens(cfg.JWTSecret, cfg.TokenTTL).Issue(u)
	return tok, u, err
}
