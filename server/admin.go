package server

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/aitutor/aitutor/store"
)

// Every handler in this file runs behind authenticate and requireAdmin.

type createPlanRequest struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	DurationDays *int   `json:"durationDays"`
	Price        *int64 `json:"price"`
	Currency     string `json:"currency"`
	Target       string `json:"target"`
	ChatUses     *int   `json:"chatUses"`
	AnalysisUses *int   `json:"analysisUses"`
	CompanyID    string `json:"companyId"`
	OncePerUser  bool   `json:"oncePerUser"`
	// Features is the prototype's shape of the uses; null or missing means unlimited.
	Features *struct {
		ChatUses     *int `json:"chatUses"`
		AnalysisUses *int `json:"analysisUses"`
	} `json:"features"`
}

var currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)

// Upper bounds of plan fields (the database columns hold more; these catch typos).
const (
	maxUses  = 1_000_000
	maxPrice = 100_000_000_00 // 100 million in major units
)

// adminCreatePlan: POST /api/admin/plan — admins. Accepts the prototype's body
// (features.chatUses, features.analysisUses) as well as flat chatUses/analysisUses and a target
// (B2C when missing; B2B for a company's plan, companyId), and oncePerUser for trials.
func (s *Server) adminCreatePlan(c echo.Context) error {
	var req createPlanRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	p := store.NewPlan{
		Name:        strings.TrimSpace(req.Name),
		Description: strings.TrimSpace(req.Description),
		Target:      req.Target,
		Currency:    req.Currency,
		ChatUses:    req.ChatUses,
		CompanyID:   req.CompanyID,
		OncePerUser: req.OncePerUser,
	}
	p.AnalysisUses = req.AnalysisUses
	if req.Features != nil {
		var err error
		if p.ChatUses, err = mergeUses("chatUses", req.ChatUses, req.Features.ChatUses); err != nil {
			return err
		}
		if p.AnalysisUses, err = mergeUses("analysisUses", req.AnalysisUses, req.Features.AnalysisUses); err != nil {
			return err
		}
	}
	switch {
	case p.Name == "" || utf8.RuneCountInString(p.Name) > 200:
		return badRequest("name is required (at most 200 characters)")
	case utf8.RuneCountInString(p.Description) > 2000:
		return badRequest("description is at most 2000 characters")
	case req.DurationDays == nil || *req.DurationDays <= 0 || *req.DurationDays > 3660:
		return badRequest("durationDays must be a whole number of days from 1 to 3660")
	case req.Price == nil || *req.Price < 0:
		return badRequest("price must be a whole, non-negative number of minor currency units (cents)")
	case p.ChatUses != nil && (*p.ChatUses < 0 || *p.ChatUses > maxUses):
		return badRequest("chatUses must be null (unlimited) or from 0 to %d", maxUses)
	case p.AnalysisUses != nil && (*p.AnalysisUses < 0 || *p.AnalysisUses > maxUses):
		return badRequest("analysisUses must be null (unlimited) or from 0 to %d", maxUses)
	case *req.Price > maxPrice:
		return badRequest("price is at most %d minor units", maxPrice)
	case p.Currency != "" && !currencyRe.MatchString(p.Currency):
		return badRequest("currency must be an ISO 4217 code such as USD")
	}
	if p.CompanyID != "" {
		if err := validUUID("companyId", p.CompanyID); err != nil {
			return err
		}
		if p.Target == "" {
			p.Target = store.B2B
		}
		if p.Target != store.B2B {
			return badRequest("a company's plan is sold to its members, who are B2B learners: target must be B2B (or empty)")
		}
	}
	if p.Target == "" {
		p.Target = store.B2C
	}
	if p.Target != store.B2C && p.Target != store.B2B {
		return badRequest("target must be B2C or B2B")
	}
	p.DurationDays, p.Price = *req.DurationDays, *req.Price
	plan, err := s.store.CreatePlan(c.Request().Context(), p)
	if err != nil {
		return err
	}
	s.logger.InfoContext(c.Request().Context(), "plan created", "admin", currentUser(c).ID, "plan", plan.ID, "name", plan.Name)
	return c.JSON(http.StatusCreated, plan)
}

// mergeUses takes a use count given flat, in features, or both (then they must agree).
func mergeUses(field string, flat, feature *int) (*int, error) {
	switch {
	case flat == nil:
		return feature, nil
	case feature == nil || *flat == *feature:
		return flat, nil
	}
	return nil, badRequest("%s and features.%s disagree", field, field)
}

// adminListPlans: GET /api/admin/plans[?includeDeleted=true] — admins.
func (s *Server) adminListPlans(c echo.Context) error {
	withDeleted, err := boolQuery(c, "includeDeleted")
	if err != nil {
		return err
	}
	target := c.QueryParam("target")
	if target != "" && target != store.B2C && target != store.B2B {
		return badRequest("target must be B2C or B2B")
	}
	plans, err := s.store.ListPlans(c.Request().Context(), target, withDeleted)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, plans)
}

// adminDeletePlan: POST /api/admin/plans/:planId/delete — admins. The plan leaves the shop;
// memberships of it keep working.
func (s *Server) adminDeletePlan(c echo.Context) error {
	id := c.Param("planId")
	if err := validUUID("planId", id); err != nil {
		return err
	}
	plan, err := s.store.DeletePlan(c.Request().Context(), id)
	if err != nil {
		return err
	}
	s.logger.InfoContext(c.Request().Context(), "plan deleted", "admin", currentUser(c).ID, "plan", id)
	return c.JSON(http.StatusOK, plan)
}

// adminListUsers: GET /api/admin/users?q=&limit=&offset= — admins: users with memberships.
func (s *Server) adminListUsers(c echo.Context) error {
	limit, err := intQuery(c, "limit", 50, 1, 200)
	if err != nil {
		return err
	}
	offset, err := intQuery(c, "offset", 0, 0, 1_000_000)
	if err != nil {
		return err
	}
	q := strings.TrimSpace(c.QueryParam("q"))
	if utf8.RuneCountInString(q) > 200 {
		return badRequest("q is at most 200 characters")
	}
	ctx := c.Request().Context()
	users, err := s.store.ListUsers(ctx, q, limit, offset)
	if err != nil {
		return err
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	ms, err := s.store.MembershipsByUsers(ctx, ids)
	if err != nil {
		return err
	}
	out := make([]userWithMemberships, len(users))
	for i, u := range users {
		out[i] = userWithMemberships{User: u, Memberships: ms[u.ID]}
		if out[i].Memberships == nil {
			out[i].Memberships = []store.Membership{}
		}
	}
	return c.JSON(http.StatusOK, out)
}

type adminUser struct {
	userWithMemberships
	Usage store.UsageSummary `json:"usage"`
}

// adminGetUser: GET /api/admin/users/:userId — admins: one user, memberships and usage totals.
func (s *Server) adminGetUser(c echo.Context) error {
	id := c.Param("userId")
	if err := validUUID("userId", id); err != nil {
		return err
	}
	ctx := c.Request().Context()
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return err
	}
	ms, err := s.store.MembershipsByUser(ctx, id)
	if err != nil {
		return err
	}
	sum, err := s.store.UsageSummaryByUser(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, adminUser{userWithMemberships{u, ms}, sum})
}

// adminUserUsage: GET /api/admin/users/:userId/usage[?limit=] — admins: the user's ledger, each
// entry described in words.
func (s *Server) adminUserUsage(c echo.Context) error {
	id := c.Param("userId")
	if err := validUUID("userId", id); err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	if _, err := s.store.UserByID(c.Request().Context(), id); err != nil {
		return err
	}
	return s.usage(c, id, limit)
}

// adminAssignPlan: POST /api/admin/users/:userId/plans/:planId/assign — admins grant a plan.
func (s *Server) adminAssignPlan(c echo.Context) error {
	userID, planID := c.Param("userId"), c.Param("planId")
	if err := validUUID("userId", userID); err != nil {
		return err
	}
	if err := validUUID("planId", planID); err != nil {
		return err
	}
	admin := currentUser(c)
	m, err := s.store.AssignPlan(c.Request().Context(), admin.ID, userID, planID)
	if err != nil {
		return err
	}
	s.logger.InfoContext(c.Request().Context(), "plan assigned", "admin", admin.ID, "user", userID, "plan", planID, "membership", m.ID)
	return c.JSON(http.StatusCreated, m)
}

// adminRevokeMembership: POST /api/admin/users/:userId/memberships/:membershipId/delete —
// admins. A soft delete: the membership stops paying for turns and stays in the history.
func (s *Server) adminRevokeMembership(c echo.Context) error {
	userID, mID := c.Param("userId"), c.Param("membershipId")
	if err := validUUID("userId", userID); err != nil {
		return err
	}
	if err := validUUID("membershipId", mID); err != nil {
		return err
	}
	admin := currentUser(c)
	m, err := s.store.RevokeMembership(c.Request().Context(), admin.ID, userID, mID)
	if err != nil {
		return err
	}
	s.logger.InfoContext(c.Request().Context(), "membership revoked", "admin", admin.ID, "user", userID, "membership", mID)
	return c.JSON(http.StatusOK, m)
}

// adminTurnMetrics: GET /api/admin/metrics/turns[?days=30] — admins: turns per day, how their
// chat uses were settled (answered, interrupted, refunded) and first-audio latency percentiles.
func (s *Server) adminTurnMetrics(c echo.Context) error {
	days, err := intQuery(c, "days", 30, 1, 366)
	if err != nil {
		return err
	}
	since := s.now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -(days - 1))
	m, err := s.store.TurnMetrics(c.Request().Context(), since)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

func intQuery(c echo.Context, name string, def, lo, hi int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

func boolQuery(c echo.Context, name string) (bool, error) {
	switch c.QueryParam(name) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, badRequest("%s must be true or false", name)
}
