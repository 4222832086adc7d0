package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/aitutor/aitutor/store"
)

// userWithMemberships is the prototype's user shape: the user and their memberships with plans.
type userWithMemberships struct {
	store.User
	Memberships []store.Membership `json:"memberships"`
}

// meResponse is the prototype's user shape with the caller's company (null for none).
type meResponse struct {
	userWithMemberships
	Company *companyRef `json:"company"`
}

// me: GET /api/users/me — the signed-in caller, from the token, with memberships and plans, and
// their company.
func (s *Server) me(c echo.Context) error {
	ctx := c.Request().Context()
	u := currentUser(c)
	ms, err := s.store.MembershipsByUser(ctx, u.ID)
	if err != nil {
		return err
	}
	out := meResponse{userWithMemberships: userWithMemberships{User: u, Memberships: ms}}
	if u.CompanyID != nil {
		company, err := s.store.Company(ctx, *u.CompanyID)
		if err != nil {
			return err
		}
		out.Company = &companyRef{ID: company.ID, Name: company.Name}
	}
	return c.JSON(http.StatusOK, out)
}
