package store

import (
	"context"
	"fmt"
	"time"
)

// Plan is a membership plan. ChatUses and AnalysisUses nil mean unlimited. Price is in minor
// units of Currency. Features repeats the uses in the prototype's shape.
type Plan struct {
	ID           string       `db:"id" json:"id"`
	Name         string       `db:"name" json:"name"`
	Description  string       `db:"description" json:"description"`
	DurationDays int          `db:"duration_days" json:"durationDays"`
	ChatUses     *int         `db:"chat_uses" json:"chatUses"`
	AnalysisUses *int         `db:"analysis_uses" json:"analysisUses"`
	Target       string       `db:"target" json:"target"`
	Price        int64        `db:"price" json:"price"`
	Currency     string       `db:"currency" json:"currency"`
	CreatedAt    time.Time    `db:"created_at" json:"createdAt"`
	DeletedAt    *time.Time   `db:"deleted_at" json:"deletedAt,omitempty"`
	Features     PlanFeatures `db:"-" json:"features"`
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
}

const planColumns = `id, name, description, duration_days, chat_uses, analysis_uses, target, price, currency, created_at, deleted_at`

const createPlanSQL = `
INSERT INTO membership_plans (name, description, duration_days, chat_uses, analysis_uses, target, price, currency)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING ` + planColumns

// CreatePlan inserts a plan.
func (s *Store) CreatePlan(ctx context.Context, p NewPlan) (Plan, error) {
	if p.Currency == "" {
		p.Currency = "USD"
	}
	var out Plan
	err := s.get(ctx, &out, createPlanSQL, p.Name, p.Description, p.DurationDays, p.ChatUses, p.AnalysisUses, p.Target, p.Price, p.Currency)
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
    INSERT INTO membership_plans (name, description, duration_days, chat_uses, analysis_uses, target, price, currency)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE NOT EXISTS (SELECT 1 FROM existing)
    RETURNING ` + planColumns + `
)
SELECT * FROM existing UNION ALL SELECT * FROM created`

// EnsurePlan returns the live plan with that name, creating it when there is none (used by seed).
func (s *Store) EnsurePlan(ctx context.Context, p NewPlan) (Plan, error) {
	if p.Currency == "" {
		p.Currency = "USD"
	}
	var out Plan
	err := s.get(ctx, &out, ensurePlanSQL, p.Name, p.Description, p.DurationDays, p.ChatUses, p.AnalysisUses, p.Target, p.Price, p.Currency)
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
