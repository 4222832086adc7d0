package store

import (
	"context"
	"fmt"
	"time"
)

// Plan is a membership plan. ChatUses and AnalysisUses nil mean unlimited. Price is in minor
// units of Currency. Features repeats the uses in the prototype's shape.
type Plan struct {
	ID           string     `db:"id" json:"id"`
	Name         string     `db:"name" json:"name"`
	Description  string     `db:"description" json:"description"`
	DurationDays int        `db:"duration_days" json:"durationDays"`
	ChatUses     *int       `db:"chat_uses" json:"chatUses"`
	AnalysisUses *int       `db:"analysis_uses" json:"analysisUses"`
	Target       string     `db:"target" json:"target"`
	Price        int64      `db:"price" json:"price"`
	Currency     string     `db:"currency" json:"currency"`
	CreatedAt    time.Time  `db:"created_at" json:"createdAt"`
	DeletedAt    *time.Time `db:"deleted_at" json:"deletedAt,omitempty"`
	// CompanyID: a plan of one company, sold to its members only (target B2B); nil for plans of
	// no company (B2C plans, and B2B plans sold to every B2B learner).
	CompanyID *string `db:"company_id" json:"companyId"`
	// OncePerUser: each user may buy the plan once (trials).
	OncePerUser bool         `db:"once_per_user" json:"oncePerUser"`
	Features    PlanFeatures `db:"-" json:"features"`
}

// PlanFeatures is the prototype's `features` object.
type PlanFeatures struct {
	ChatUses     *int `json:"chatUses"`
	AnalysisUses *int `json:"analysisUses"`
}

func (p *Plan) fill() { p.Features = PlanFeatures{ChatUses: p.ChatUses, AnalysisUses: p.AnalysisUses} }

func fillPlans(ps []Plan) {
	for i := range ps {
		ps[i].fill()
	}
}

// NewPlan is what CreatePlan needs. The database checks the ranges again.
type NewPlan struct {
	Name         string
	Description  string
	DurationDays int
	ChatUses     *int
	AnalysisUses *int
	Target       string
	Price        int64
	Currency     string
	CompanyID    string // empty: a plan of no company
	OncePerUser  bool
}

const planColumns = `id, name, description, duration_days, chat_uses, analysis_uses, target, price, currency, created_at, deleted_at, company_id, once_per_user`

const createPlanSQL = `
INSERT INTO membership_plans (name, description, duration_days, chat_uses, analysis_uses, target, price, currency, company_id, once_per_user)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9, '')::uuid, $10)
RETURNING ` + planColumns

// CreatePlan inserts a plan. An unknown CompanyID is ErrNotFound.
func (s *Store) CreatePlan(ctx context.Context, p NewPlan) (Plan, error) {
	if p.Currency == "" {
		p.Currency = "USD"
	}
	var out Plan
	err := s.get(ctx, &out, createPlanSQL, p.Name, p.Description, p.DurationDays, p.ChatUses, p.AnalysisUses, p.Target, p.Price, p.Currency, p.CompanyID, p.OncePerUser)
	if isForeignKeyViolation(err, "membership_plans_company_id_fkey") {
		return Plan{}, fmt.Errorf("store: create plan: company %s: %w", p.CompanyID, ErrNotFound)
	}
	if err != nil {
		return Plan{}, fmt.Errorf("store: create plan: %w", err)
	}
	out.fill()
	return out, nil
}

const ensurePlanSQL = `
WITH existing AS (
    SELECT ` + planColumns + ` FROM membership_plans WHERE name = $1 AND deleted_at IS NULL LIMIT 1
), created AS (
    INSERT INTO membership_plans (name, description, duration_days, chat_uses, analysis_uses, target, price, currency, company_id, once_per_user)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9, '')::uuid, $10 WHERE NOT EXISTS (SELECT 1 FROM existing)
    RETURNING ` + planColumns + `
)
SELECT * FROM existing UNION ALL SELECT * FROM created`

// EnsurePlan returns the live plan with that name, creating it when there is none (used by seed).
func (s *Store) EnsurePlan(ctx context.Context, p NewPlan) (Plan, error) {
	if p.Currency == "" {
		p.Currency = "USD"
	}
	var out Plan
	err := s.get(ctx, &out, ensurePlanSQL, p.Name, p.Description, p.DurationDays, p.ChatUses, p.AnalysisUses, p.Target, p.Price, p.Currency, p.CompanyID, p.OncePerUser)
	if err != nil {
		return Plan{}, fmt.Errorf("store: ensure plan %q: %w", p.Name, err)
	}
	out.fill()
	return out, nil
}

const planByIDSQL = `SELECT ` + planColumns + ` FROM membership_plans WHERE id = $1`

// PlanByID returns the plan, deleted or not, or ErrNotFound.
func (s *Store) PlanByID(ctx context.Context, id string) (Plan, error) {
	var p Plan
	if err := s.get(ctx, &p, planByIDSQL, id); err != nil {
		if isInvalidInput(err) {
			return Plan{}, ErrNotFound
		}
		return Plan{}, notFound(err)
	}
	p.fill()
	return p, nil
}

const listPlansSQL = `
SELECT ` + planColumns + ` FROM membership_plans
WHERE ($1 = '' OR target = $1) AND ($2 OR deleted_at IS NULL)
ORDER BY target, price, name, id`

// SoldTo says whether u may buy the plan: nil, ErrPlanNotForSale (deleted), ErrPlanTarget (a plan
// of the other customer type) or ErrPlanOtherCompany (a company's plan, and u is not its
// member). This is the one rule of who may buy what: B2C learners buy B2C plans; B2B learners buy
// the B2B plans of no company and those of their own company. GET /api/membership lists what it
// allows and Purchase enforces it.
func (p *Plan) SoldTo(u User) error {
	switch {
	case p.DeletedAt != nil:
		return ErrPlanNotForSale
	case p.Target != u.CustomerType:
		return ErrPlanTarget
	case p.CompanyID != nil && (u.CompanyID == nil || *u.CompanyID != *p.CompanyID):
		return ErrPlanOtherCompany
	}
	return nil
}

const plansForSaleSQL = `
SELECT ` + planColumns + ` FROM membership_plans
WHERE target = $1 AND deleted_at IS NULL AND (company_id IS NULL OR company_id = $2::uuid)
ORDER BY price, name, id`

// PlansFor returns the plans on sale to u (see Plan.SoldTo), cheapest first.
func (s *Store) PlansFor(ctx context.Context, u User) ([]Plan, error) {
	candidates := []Plan{}
	if err := s.sel(ctx, &candidates, plansForSaleSQL, u.CustomerType, u.CompanyID); err != nil {
		return nil, fmt.Errorf("store: plans for %s: %w", u.ID, err)
	}
	plans := candidates[:0]
	for _, p := range candidates {
		if p.SoldTo(u) == nil { // the query narrows; the rule decides
			p.fill()
			plans = append(plans, p)
		}
	}
	return plans, nil
}

const usedOncePlansSQL = `SELECT DISTINCT plan_id FROM purchases WHERE user_id = $1 AND once_per_user`

// UsedOncePlans returns the ids of the once-per-user plans that the user has bought.
func (s *Store) UsedOncePlans(ctx context.Context, userID string) (map[string]bool, error) {
	ids := []string{}
	if err := s.sel(ctx, &ids, usedOncePlansSQL, userID); err != nil {
		return nil, fmt.Errorf("store: once-per-user plans of %s: %w", userID, err)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// ListPlans returns the plans for target (all targets when empty), with deleted ones when
// withDeleted is set.
func (s *Store) ListPlans(ctx context.Context, target string, withDeleted bool) ([]Plan, error) {
	plans := []Plan{}
	if err := s.sel(ctx, &plans, listPlansSQL, target, withDeleted); err != nil {
		return nil, fmt.Errorf("store: list plans: %w", err)
	}
	fillPlans(plans)
	return plans, nil
}

const deletePlanSQL = `
UPDATE membership_plans SET deleted_at = COALESCE(deleted_at, $2)
WHERE id = $1
RETURNING ` + planColumns

// DeletePlan hides the plan from sale. Memberships of the plan keep working. Deleting twice is
// not an error; an unknown plan is ErrNotFound.
func (s *Store) DeletePlan(ctx context.Context, id string) (Plan, error) {
	var p Plan
	if err := s.get(ctx, &p, deletePlanSQL, id, s.now()); err != nil {
		if isInvalidInput(err) {
			return Plan{}, ErrNotFound
		}
		return Plan{}, notFound(err)
	}
	p.fill()
	return p, nil
}
