package server

import (
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/aitutor/aitutor/store"
)

// planForSale is a plan with whether the caller holds an active membership of it, and whether
// they can buy it now (Reason says why not: "already_used" for a once-per-user plan bought
// before).
type planForSale struct {
	store.Plan
	Active    bool   `json:"active"`
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"`
}

// Why a plan on the list cannot be bought now.
const reasonAlreadyUsed = "already_used"

// listPlansForSale: GET /api/membership — signed-in users: the plans sold to them (store.Plan.SoldTo:
// B2C learners the B2C plans; B2B learners the B2B plans of no company and their company's).
func (s *Server) listPlansForSale(c echo.Context) error {
	ctx := c.Request().Context()
	u := currentUser(c)
	plans, err := s.store.PlansFor(ctx, u)
	if err != nil {
		return err
	}
	ms, err := s.store.MembershipsByUser(ctx, u.ID)
	if err != nil {
		return err
	}
	used, err := s.store.UsedOncePlans(ctx, u.ID)
	if err != nil {
		return err
	}
	active := map[string]bool{}
	for _, m := range ms {
		if m.Status == store.StatusActive {
			active[m.PlanID] = true
		}
	}
	out := make([]planForSale, len(plans))
	for i, p := range plans {
		out[i] = planForSale{Plan: p, Active: active[p.ID], Available: true}
		if p.OncePerUser && used[p.ID] {
			out[i].Available, out[i].Reason = false, reasonAlreadyUsed
		}
	}
	return c.JSON(http.StatusOK, out)
}

type buyRequest struct {
	PlanID string `json:"planId"`
}

// buyPlan: POST /api/membership {planId} — signed-in users buy a plan sold to them (the rule of
// GET /api/membership); a once-per-user plan bought before is 409 plan_already_used.
// An Idempotency-Key header makes retries safe: the first answer is returned again (with
// Idempotent-Replayed: true), the key with another plan is 422, and 409 while the first runs.
func (s *Server) buyPlan(c echo.Context) error {
	var req buyRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if err := validUUID("planId", req.PlanID); err != nil {
		return err
	}
	key := c.Request().Header.Get("Idempotency-Key")
	if len(key) > 255 || strings.IndexFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		return badRequest("Idempotency-Key must be 1 to 255 visible ASCII characters")
	}
	u := currentUser(c)
	res, err := s.store.Purchase(c.Request().Context(), u.ID, req.PlanID, key)
	if err != nil {
		return err
	}
	if res.Replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	} else {
		s.logger.InfoContext(c.Request().Context(), "plan bought", "user", u.ID, "plan", req.PlanID, "membership", res.Membership.ID)
	}
	return c.JSON(http.StatusCreated, res.Membership)
}

// validUUID answers 400 unless v is a UUID.
func validUUID(field, v string) error {
	if v == "" {
		return badRequest("%s is required", field)
	}
	if _, err := uuid.Parse(v); err != nil || len(v) != 36 {
		return badRequest("%s must be a UUID", field)
	}
	return nil
}
