package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/aitutor/aitutor/store"
)

// companyRef is what a learner sees of their company.
type companyRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type joinRequest struct {
	Code string `json:"code"`
}

type joinResponse struct {
	Company companyRef `json:"company"`
	User    store.User `json:"user"`
}

// joinFailures is the daily counter of an account's failed join attempts.
const joinFailures = "company_join_failures"

// maxCodeInput is the longest code accepted in a request (stored codes are at most 64
// characters).
const maxCodeInput = 64

// joinCompany: POST /api/companies/join {code} — signed-in users join the company of a code and
// become its B2B learners. Guessing is bounded three ways: attempts per account per minute and
// failed attempts per client IP per minute (JOIN_RATE_LIMIT, in memory), and failed attempts per
// account per day (JOIN_DAILY_FAILURE_LIMIT, in PostgreSQL, across instances): 429
// rate_limited. An attempt takes one of the day's failures before it runs and gives it back
// unless the code was wrong, expired or disabled, so concurrent guesses never exceed the limit.
func (s *Server) joinCompany(c echo.Context) error {
	var req joinRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	code := strings.TrimSpace(req.Code)
	switch {
	case code == "":
		return badRequest("code is required")
	case utf8.RuneCountInString(code) > maxCodeInput:
		return badRequest("code is at most %d characters", maxCodeInput)
	}
	u := currentUser(c)
	ip := c.RealIP()
	if !s.joinLimit.allow(u.ID) || !s.joinIPLimit.ready(ip) {
		return newError(http.StatusTooManyRequests, "rate_limited", "too many attempts to join a company; wait a minute and try again")
	}
	ctx := c.Request().Context()
	if err := s.store.TakeDaily(ctx, u.ID, joinFailures, s.cfg.JoinDailyFailures); err != nil {
		if errors.Is(err, store.ErrLimitReached) {
			return newError(http.StatusTooManyRequests, "rate_limited",
				"too many wrong company codes today; check the code with your company and try again tomorrow")
		}
		return err
	}
	company, user, err := s.store.JoinCompany(ctx, u.ID, code)
	if errors.Is(err, store.ErrInvalidCode) || errors.Is(err, store.ErrCodeExpired) || errors.Is(err, store.ErrCodeDisabled) {
		s.joinIPLimit.spend(ip)
		s.logger.InfoContext(ctx, "company join refused", "user", u.ID, "ip", ip, "err", err)
		return err // the day's failure stays counted
	}
	returnCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := s.store.ReturnDaily(returnCtx, u.ID, joinFailures); rerr != nil {
		s.logger.WarnContext(ctx, "giving back a join attempt", "user", u.ID, "err", rerr)
	}
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "company joined", "user", u.ID, "company", company.ID)
	return c.JSON(http.StatusOK, joinResponse{Company: companyRef{company.ID, company.Name}, User: user})
}

type leaveResponse struct {
	User store.User `json:"user"`
}

// leaveCompany: POST /api/companies/leave — signed-in users leave their company and are B2C
// learners again; memberships that came through the company stay usable until they expire.
func (s *Server) leaveCompany(c echo.Context) error {
	u := currentUser(c)
	user, err := s.store.LeaveCompany(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	s.logger.InfoContext(c.Request().Context(), "company left", "user", u.ID)
	return c.JSON(http.StatusOK, leaveResponse{User: user})
}

// Every handler below runs behind authenticate and requireAdmin.

type codeRequest struct {
	Code      string     `json:"code"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

type createCompanyRequest struct {
	Name      string        `json:"name"`
	SeatLimit *int          `json:"seatLimit"`
	Codes     []codeRequest `json:"codes"`
}

// Bounds of company fields.
const (
	maxSeats        = 1_000_000
	maxCodesAtOnce  = 20
	minCodeSymbols  = 8
	maxCodeSymbols  = 32
	maxCodeValidity = 10 * 366 * 24 * time.Hour
)

// newCode checks a code of a request: empty (generated), or 8 to 32 letters and digits with
// hyphens or spaces between them; an expiry in the future.
func (s *Server) newCode(field string, r codeRequest) (store.NewCompanyCode, error) {
	code := strings.TrimSpace(r.Code)
	if code != "" {
		n := len(store.CodeLookup(code))
		if utf8.RuneCountInString(code) > maxCodeInput || n < minCodeSymbols || n > maxCodeSymbols ||
			strings.IndexFunc(code, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == ' ')
			}) >= 0 {
			return store.NewCompanyCode{}, badRequest("%s.code must be %d to %d letters and digits (hyphens and spaces may separate them; case, hyphens and spaces are ignored when it is entered), or empty to have one generated",
				field, minCodeSymbols, maxCodeSymbols)
		}
	}
	if r.ExpiresAt != nil {
		if now := s.now(); !r.ExpiresAt.After(now) || r.ExpiresAt.Sub(now) > maxCodeValidity {
			return store.NewCompanyCode{}, badRequest("%s.expiresAt must be in the future (at most 10 years ahead), or null for a code that does not expire", field)
		}
	}
	return store.NewCompanyCode{Code: code, ExpiresAt: r.ExpiresAt}, nil
}

// adminCreateCompany: POST /api/admin/companies {name, seatLimit?, codes?} — admins. One code
// is generated when none is given.
func (s *Server) adminCreateCompany(c echo.Context) error {
	var req createCompanyRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	name := strings.TrimSpace(req.Name)
	switch {
	case name == "" || utf8.RuneCountInString(name) > 200:
		return badRequest("name is required (at most 200 characters)")
	case req.SeatLimit != nil && (*req.SeatLimit < 1 || *req.SeatLimit > maxSeats):
		return badRequest("seatLimit must be null (no limit) or from 1 to %d", maxSeats)
	case len(req.Codes) > maxCodesAtOnce:
		return badRequest("at most %d codes at once", maxCodesAtOnce)
	}
	admin := currentUser(c)
	nc := store.NewCompany{Name: name, SeatLimit: req.SeatLimit, CreatedBy: admin.ID}
	for i, r := range req.Codes {
		code, err := s.newCode("codes["+strconv.Itoa(i)+"]", r)
		if err != nil {
			return err
		}
		nc.Codes = append(nc.Codes, code)
	}
	ctx := c.Request().Context()
	company, err := s.store.CreateCompany(ctx, nc)
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "company created", "admin", admin.ID, "company", company.ID, "name", company.Name)
	return c.JSON(http.StatusCreated, company)
}

// adminListCompanies: GET /api/admin/companies — admins: every company with its seat usage.
func (s *Server) adminListCompanies(c echo.Context) error {
	companies, err := s.store.ListCompanies(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, companies)
}

// adminGetCompany: GET /api/admin/companies/:id — admins: the company, codes, members, plans.
func (s *Server) adminGetCompany(c echo.Context) error {
	id := c.Param("id")
	if err := validUUID("id", id); err != nil {
		return err
	}
	company, err := s.store.CompanyDetail(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, company)
}

// adminAddCompanyCode: POST /api/admin/companies/:id/codes {code?, expiresAt?} — admins. No
// body, or no code, generates one.
func (s *Server) adminAddCompanyCode(c echo.Context) error {
	id := c.Param("id")
	if err := validUUID("id", id); err != nil {
		return err
	}
	var req codeRequest
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	nc, err := s.newCode("body", req)
	if err != nil {
		return err
	}
	admin := currentUser(c)
	ctx := c.Request().Context()
	code, err := s.store.AddCompanyCode(ctx, id, nc, admin.ID)
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "company code added", "admin", admin.ID, "company", id, "code", code.ID)
	return c.JSON(http.StatusCreated, code)
}

// adminDisableCompanyCode: POST /api/admin/companies/:id/codes/:codeId/disable — admins. The
// code stops letting anyone join; its members stay.
func (s *Server) adminDisableCompanyCode(c echo.Context) error {
	id, codeID := c.Param("id"), c.Param("codeId")
	if err := validUUID("id", id); err != nil {
		return err
	}
	if err := validUUID("codeId", codeID); err != nil {
		return err
	}
	ctx := c.Request().Context()
	code, err := s.store.DisableCompanyCode(ctx, id, codeID)
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "company code disabled", "admin", currentUser(c).ID, "company", id, "code", codeID)
	return c.JSON(http.StatusOK, code)
}

type removeMemberResponse struct {
	User               store.User `json:"user"`
	RevokedMemberships int64      `json:"revokedMemberships"`
}

// adminRemoveCompanyMember: POST /api/admin/companies/:id/members/:userId/delete
// [?revokeMemberships=true] — admins. The user becomes a B2C learner and frees their seat; with
// revokeMemberships their memberships that came through the company are revoked in the same
// transaction (otherwise they stay usable until they expire, as when a learner leaves).
func (s *Server) adminRemoveCompanyMember(c echo.Context) error {
	id, userID := c.Param("id"), c.Param("userId")
	if err := validUUID("id", id); err != nil {
		return err
	}
	if err := validUUID("userId", userID); err != nil {
		return err
	}
	revoke, err := boolQuery(c, "revokeMemberships")
	if err != nil {
		return err
	}
	admin := currentUser(c)
	ctx := c.Request().Context()
	u, n, err := s.store.RemoveCompanyMember(ctx, admin.ID, id, userID, revoke)
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "company member removed", "admin", admin.ID, "company", id, "user", userID, "revoked", n)
	return c.JSON(http.StatusOK, removeMemberResponse{User: u, RevokedMemberships: n})
}

type assignToCompanyResponse struct {
	CompanyID string `json:"companyId"`
	PlanID    string `json:"planId"`
	Created   int64  `json:"created"`
}

// adminAssignPlanToCompany: POST /api/admin/companies/:id/plans/:planId/assign — admins grant a
// plan to every current member at once (one transaction) and learn how many memberships were
// created.
func (s *Server) adminAssignPlanToCompany(c echo.Context) error {
	id, planID := c.Param("id"), c.Param("planId")
	if err := validUUID("id", id); err != nil {
		return err
	}
	if err := validUUID("planId", planID); err != nil {
		return err
	}
	admin := currentUser(c)
	ctx := c.Request().Context()
	n, err := s.store.AssignPlanToCompany(ctx, admin.ID, id, planID)
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "plan assigned to company", "admin", admin.ID, "company", id, "plan", planID, "memberships", n)
	return c.JSON(http.StatusOK, assignToCompanyResponse{CompanyID: id, PlanID: planID, Created: n})
}
