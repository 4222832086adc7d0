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

// me: GET /api/users/me — the signed-in caller, from the token, with memberships and plans.
func (s *Server) me(c echo.Context) error {
	u := currentUser(c)
	ms, err := s.store.MembershipsByUser(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, userWithMemberships{User: u, Memberships: ms})
}
