package web_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/store"
)

// Browser tests of issue 13, companies in the UI: an administrator creates a company with codes
// and a seat limit, adds and turns off codes, creates the company's plan, assigns a plan to every
// member and removes a member (revoking what came through the company); a learner enters
// codes (wrong, turned off, expired, company full, too many attempts: each explained in the
// dialog, which stays open), joins, sees and gets the company's plans, and leaves; once-per-
// account plans say "Already used". Learners see no admin controls and the server refuses them.

// setDate sets a date field (yyyy-mm-dd) as a person picking a date does.
func (tb *tab) setDate(sel, date string) {
	tb.t.Helper()
	evalJS[chromedp.Void](tb, fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		el.value = %q;
		el.dispatchEvent(new Event("input", {bubbles: true}));
		el.dispatchEvent(new Event("change", {bubbles: true}));
	})()`, sel, date))
}

// joinWith enters code in the open company-code dialog and submits it (the dialog's earlier
// refusal is cleared first, so that the next one can be waited for).
func (tb *tab) joinWith(code string) {
	tb.t.Helper()
	evalJS[chromedp.Void](tb, `document.querySelector("#company-code-error")?.replaceChildren()`)
	tb.fill("#company-code", code)
	tb.do("submit the code", chromedp.KeyEvent(kb.Enter))
}

// companyDetailOf is the company as the API has it.
func companyDetailOf(t *testing.T, env *servertest.Env, admin, id string) store.CompanyDetail {
	t.Helper()
	var c store.CompanyDetail
	r := env.Do(http.MethodGet, "/api/admin/companies/"+id, admin, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET company: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &c)
	return c
}

func TestCompaniesInTheUI(t *testing.T) {
	// Four wrong codes a day per account: the learner below uses three (wrong, turned off,
	// expired) and still joins; the guesser's fifth attempt is refused.
	env := servertest.New(t, servertest.Options{Env: map[string]string{"JOIN_DAILY_FAILURE_LIMIT": "4"}})
	ctx := context.Background()
	browser := newBrowser(t, writeMicWAV(t, "silence.wav", silence(time.Second)), false)
	admin, adminToken := env.User("boss@example.com", store.RoleAdmin)
	personal := env.Plan("Personal 10", intp(10), store.B2C)
	trial, err := env.Store.CreatePlan(ctx, store.NewPlan{Name: "Trial", DurationDays: 7, ChatUses: intp(3), Target: store.B2C, Price: 0, OncePerUser: true})
	if err != nil {
		t.Fatal(err)
	}
	teamWide := env.Plan("Team Wide", intp(50), store.B2B) // for company learners of any company
	learner, learnerToken := env.User("lina@example.com", store.RoleUser)
	env.Membership(learner, personal)

	a := newTab(t, browser, env.URL, "admin")
	a.signInWithToken(adminToken, "/admin/companies")
	a.waitText("#admin-companies", "No companies yet", 10*time.Second)

	// An empty form says what is missing; then a company with a seat limit and two codes: one
	// chosen, one generated that expires.
	a.click("#company-create")
	a.waitText("#company-error", "Give the company a name", 5*time.Second)
	a.fill("#company-name", "Globex")
	a.fill("#company-seats", "1")
	a.fill("#company-codes .code-row:nth-child(1) input[name=code]", "globex team 01")
	a.click("#company-add-code")
	a.waitJS("a second code row with the focus", `document.querySelectorAll("#company-codes .code-row").length === 2 && document.activeElement === document.querySelector("#company-codes .code-row:nth-child(2) input[name=code]")`, 5*time.Second)
	tomorrow := time.Now().AddDate(0, 0, 1).Format("2006-01-02")
	a.setDate("#company-codes .code-row:nth-child(2) input[name=expiresOn]", tomorrow)
	a.fill("#company-codes .code-row:nth-child(1) input[name=code]", "short")
	a.click("#company-create")
	a.waitText("#company-error", "8 to 32 letters and digits", 5*time.Second)
	a.fill("#company-codes .code-row:nth-child(1) input[name=code]", "globex team 01")
	a.click("#company-create")
	a.waitJS("the company's page", `location.hash.startsWith("#/admin/companies/") && document.querySelector("#company-h")?.innerText === "Globex"`, 10*time.Second)
	globexID := strings.TrimPrefix(evalJS[string](a, `location.hash`), "#/admin/companies/")
	g := companyDetailOf(t, env, adminToken, globexID)
	if g.SeatLimit == nil || *g.SeatLimit != 1 || len(g.Codes) != 2 {
		t.Fatalf("the company as created: %+v", g)
	}
	var chosen, generated store.CompanyCode
	for _, c := range g.Codes {
		if c.Code == "GLOBEX TEAM 01" {
			chosen = c
		} else {
			generated = c
		}
	}
	if chosen.ID == "" || chosen.ExpiresAt != nil || !regexp.MustCompile(`^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$`).MatchString(generated.Code) || generated.ExpiresAt == nil ||
		generated.ExpiresAt.Local().Format("2006-01-02") != tomorrow {
		t.Fatalf("the codes as created: %+v", g.Codes)
	}
	a.waitText("#company-summary", "0 of 1 seat taken", 5*time.Second)
	a.waitText(fmt.Sprintf(`#company-codes tr[data-code-id=%q]`, generated.ID), "Active", time.Second)

	// Another code, generated; then the generated code of the form is turned off.
	a.click("#add-code")
	a.waitJS("three codes", `document.querySelectorAll("#company-codes tbody tr").length === 3`, 10*time.Second)
	a.click(fmt.Sprintf(`#company-codes tr[data-code-id=%q] button`, generated.ID))
	a.click(`dialog[data-testid="confirm-disable-code"] button.danger`)
	a.waitText(fmt.Sprintf(`#company-codes tr[data-code-id=%q]`, generated.ID), "Turned off", 10*time.Second)
	// An expired code (made in the database: the API only takes future expiries).
	past := time.Now().Add(-time.Hour)
	expired, err := env.Store.AddCompanyCode(ctx, globexID, store.NewCompanyCode{Code: "GLOBEX-OLD-2020", ExpiresAt: &past}, admin.ID)
	if err != nil {
		t.Fatal(err)
	}

	// The company's own plan, from its page: the plan form comes with the company chosen.
	evalJS[chromedp.Void](a, `document.getElementById("toasts").replaceChildren()`) // they may cover the link
	a.click("#company-new-plan")
	a.waitJS("the plan form for Globex", fmt.Sprintf(`document.querySelector("#plan-company")?.value === %q && document.querySelector("#plan-target").value === "B2B"`, globexID), 10*time.Second)
	a.fill("#plan-name", "Globex Team")
	a.fill("#plan-price", "0")
	a.click("#plan-create")
	a.waitText(`tr[data-plan-name="Globex Team"]`, "Globex’s learners", 10*time.Second)
	var globexPlan store.Plan
	for _, p := range companyDetailOf(t, env, adminToken, globexID).Plans {
		if p.Name == "Globex Team" {
			globexPlan = p
		}
	}
	if globexPlan.ID == "" || globexPlan.Target != store.B2B {
		t.Fatalf("the company's plan was not created for it: %+v", globexPlan)
	}

	// The learner: personal plans only, and the code dialog.
	l := newTab(t, browser, env.URL, "learner")
	l.signInWithToken(learnerToken, "/plans")
	l.waitVisible(`[data-plan-name="Personal 10"]`)
	if got := l.text("#plans"); strings.Contains(got, "Globex Team") || strings.Contains(got, "Team Wide") {
		t.Errorf("a personal learner is offered company plans: %q", got)
	}
	l.click("#join-company")
	l.waitVisible(`dialog[data-testid="join-company"]`)
	l.waitJS("the focus in the code field", `document.activeElement?.id === "company-code"`, 5*time.Second)
	refusals := []struct{ code, errCode, says string }{
		{"NOPE-NOPE-NOPE", "invalid_code", "That code was not found"},
		{generated.Code, "code_expired", "That code no longer works"},
		{strings.ToLower(expired.Code), "code_expired", "It has expired or your company turned it off"},
	}
	for _, r := range refusals {
		l.joinWith(r.code)
		l.waitJS("the refusal "+r.errCode, fmt.Sprintf(`document.querySelector('#company-code-error [data-code=%q]')?.innerText.includes(%q)`, r.errCode, r.says), 10*time.Second)
		if !evalJS[bool](l, `document.querySelector("dialog[open]") !== null && document.activeElement?.id === "company-code" && document.querySelector("#company-code").getAttribute("aria-invalid") === "true"`) {
			t.Errorf("after %s the dialog closed or the code field lost the focus or is not marked invalid", r.errCode)
		}
	}
	l.screenshot("join-company-refused-light")

	// Company full: someone else took the only seat.
	other, otherToken := env.User("olaf@example.com", store.RoleUser)
	if r := env.Do(http.MethodPost, "/api/companies/join", otherToken, map[string]string{"code": "GLOBEX-TEAM-01"}); r.Status != http.StatusOK {
		t.Fatalf("the other learner's join: %d %s", r.Status, r.Body)
	}
	l.joinWith("Globex-Team-01")
	l.waitJS("company full", `document.querySelector('#company-code-error [data-code="company_full"]')?.innerText.includes("no free places")`, 10*time.Second)

	// The admin sees the member, assigns a plan to every member, and removes them, revoking
	// what came through the company.
	a.goTo("/admin/companies/" + globexID)
	a.waitVisible(fmt.Sprintf(`#company-members tr[data-user-id=%q]`, other.ID))
	a.waitText("#company-summary", "1 of 1 seat taken", 5*time.Second)
	a.click(`#assign-all-form button[type=submit]`)
	a.waitText("#assign-all-error", "Choose the plan to assign first", 5*time.Second)
	a.do("choose the plan", chromedp.SetValue(chromedp.CSS("#assign-all-plan"), teamWide.ID))
	a.click(`#assign-all-form button[type=submit]`)
	a.waitText(`dialog[data-testid="confirm-assign-all"]`, "Each of the 1 member", 5*time.Second)
	a.click(`dialog[data-testid="confirm-assign-all"] button.primary`)
	a.waitText("#toasts", "Team Wide: 1 membership created", 10*time.Second)
	a.click(fmt.Sprintf(`#company-members tr[data-user-id=%q] button.danger`, other.ID))
	a.waitVisible(`dialog[data-testid="confirm-remove-member"]`)
	a.click(`dialog[data-testid="confirm-remove-member"] input[type=checkbox]`)
	a.click(`dialog[data-testid="confirm-remove-member"] button.danger`)
	a.waitText("#toasts", "1 membership revoked", 10*time.Second)
	a.waitText("#company-members", "No members yet", 5*time.Second)
	var olaf struct {
		CustomerType string             `json:"customerType"`
		Memberships  []store.Membership `json:"memberships"`
	}
	env.Do(http.MethodGet, "/api/users/me", otherToken, nil).JSON(t, &olaf)
	if olaf.CustomerType != store.B2C || len(olaf.Memberships) != 1 || olaf.Memberships[0].Status != store.StatusRevoked {
		t.Errorf("the removed member: %+v", olaf)
	}

	// Now the learner joins (the dialog was left open): the company's plans.
	l.joinWith("GLOBEX TEAM 01")
	l.waitJS("the dialog closed", `document.querySelector("dialog[open]") === null`, 10*time.Second)
	l.waitText("#toasts", "You joined Globex", 5*time.Second)
	l.waitText("#plan-audience", "You learn through Globex", 5*time.Second)
	l.waitVisible(`[data-plan-name="Globex Team"]`)
	l.waitText(`[data-plan-name="Globex Team"] .badges`, "Globex", time.Second)
	if got := l.text("#plans"); strings.Contains(got, "Personal 10") || !strings.Contains(got, "Team Wide") {
		t.Errorf("a member is offered %q", got)
	}
	l.click(`[data-plan-name="Globex Team"] button`)
	l.waitText(`dialog[data-testid="confirm-purchase"]`, "no payment step", 5*time.Second)
	l.click(`dialog[data-testid="confirm-purchase"] button.primary`)
	l.waitVisible("#purchase-ok")
	l.screenshots("plans-company")

	// Home: the company in the profile, the membership from it; leaving makes the learner
	// personal again and keeps the membership.
	l.goTo("/")
	l.waitText(`#profile [data-prop="company"]`, "Globex", 10*time.Second)
	l.waitText("#memberships", "From Globex on", 5*time.Second)
	l.click("#leave-company")
	l.waitText(`dialog[data-testid="confirm-leave-company"]`, "stay usable until they end", 5*time.Second)
	l.click(`dialog[data-testid="confirm-leave-company"] button.danger`)
	l.waitText("#toasts", "You left Globex", 10*time.Second)
	l.waitVisible("#profile #join-company")
	l.waitText(`#profile [data-prop="account"]`, "Personal", time.Second)
	var me struct {
		CustomerType string             `json:"customerType"`
		Company      *struct{}          `json:"company"`
		Memberships  []store.Membership `json:"memberships"`
	}
	env.Do(http.MethodGet, "/api/users/me", learnerToken, nil).JSON(t, &me)
	if me.CustomerType != store.B2C || me.Company != nil || len(me.Memberships) != 2 || me.Memberships[0].Status != store.StatusActive {
		t.Errorf("after leaving: %+v", me)
	}

	// Once per account: a plan had once says so and cannot be got again, and a purchase made
	// elsewhere meanwhile is explained.
	l.goTo("/plans")
	l.waitVisible(`[data-plan-name="Trial"][data-available="true"]`)
	if r := env.Do(http.MethodPost, "/api/membership", learnerToken, map[string]string{"planId": trial.ID}); r.Status != http.StatusCreated {
		t.Fatalf("buying the trial: %d %s", r.Status, r.Body)
	}
	l.click(`[data-plan-name="Trial"] button`)
	l.waitText(`dialog[data-testid="confirm-purchase"]`, "You can get this plan once", 5*time.Second)
	l.click(`dialog[data-testid="confirm-purchase"] button.primary`)
	l.waitJS("the refusal explained", `document.querySelector('#purchase-result [data-code="plan_already_used"]')?.innerText.includes("can be had once per account")`, 10*time.Second)
	l.waitVisible(`[data-plan-name="Trial"][data-available="false"]`)
	l.waitText(`[data-plan-name="Trial"] .badges`, "Already used", time.Second)
	if !evalJS[bool](l, `document.querySelector('[data-plan-name="Trial"] button').disabled && document.querySelector("#purchase-result button") === null`) {
		t.Error("a used once-per-account plan can still be bought, or the refusal offers to try again")
	}

	// Rate limited: the fifth code after four wrong ones today (JOIN_DAILY_FAILURE_LIMIT=4).
	_, guesserToken := env.User("guess@example.com", store.RoleUser)
	r := newTab(t, browser, env.URL, "guesser")
	r.signInWithToken(guesserToken, "/")
	r.click("#join-company")
	for i := 0; i < 4; i++ {
		r.joinWith(fmt.Sprintf("WRONG-CODE-%04d", i))
		r.waitJS("a wrong code", `document.querySelector('#company-code-error [data-code="invalid_code"]') !== null`, 10*time.Second)
	}
	r.joinWith("GLOBEX TEAM 01")
	r.waitJS("too many attempts", `document.querySelector('#company-code-error [data-code="rate_limited"]')?.innerText.includes("try again tomorrow")`, 10*time.Second)
	r.do("escape", chromedp.KeyEvent(kb.Escape))
	r.waitJS("the dialog closed, focus back", `document.querySelector("dialog[open]") === null && document.activeElement?.id === "join-company"`, 5*time.Second)

	// A learner sees no admin controls, is sent away from the admin pages, and is refused by
	// the server.
	if nav := l.text("#nav"); strings.Contains(nav, "Admin") {
		t.Errorf("a learner's navigation offers the dashboard: %q", nav)
	}
	l.goTo("/admin/companies/" + globexID)
	l.waitJS("sent home", `location.hash === "#/"`, 10*time.Second)
	l.waitText("#toasts", "Not allowed", 5*time.Second)
	for _, rt := range []struct{ method, path string }{
		{"GET", "/api/admin/companies"}, {"POST", "/api/admin/companies"}, {"GET", "/api/admin/companies/" + globexID},
		{"POST", "/api/admin/companies/" + globexID + "/codes"},
		{"POST", "/api/admin/companies/" + globexID + "/codes/" + chosen.ID + "/disable"},
		{"POST", "/api/admin/companies/" + globexID + "/members/" + other.ID + "/delete"},
		{"POST", "/api/admin/companies/" + globexID + "/plans/" + teamWide.ID + "/assign"},
	} {
		if res := env.Do(rt.method, rt.path, learnerToken, map[string]any{}); res.Status != http.StatusForbidden {
			t.Errorf("%s %s as a learner: %d, want 403", rt.method, rt.path, res.Status)
		}
	}
}
