package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/aitutor/aitutor/store"
)

// publicPlan is what a visitor sees of a plan: no ids of companies, no dates.
type publicPlan struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	DurationDays int    `json:"durationDays"`
	ChatUses     *int   `json:"chatUses"`
	AnalysisUses *int   `json:"analysisUses"`
	Price        int64  `json:"price"`
	Currency     string `json:"currency"`
	OncePerUser  bool   `json:"oncePerUser"`
}

// newAccount is who a visitor becomes on signing up: a personal (B2C) learner of no company.
var newAccount = store.User{CustomerType: store.B2C}

// publicPlans: GET /api/plans/public — anyone: the plans a new account can buy (the rule of
// GET /api/membership applied to a B2C learner of no company), cheapest first, for the home
// page that visitors see. Company plans are never listed.
func (s *Server) publicPlans(c echo.Context) error {
	plans, err := s.store.PlansFor(c.Request().Context(), newAccount)
	if err != nil {
		return err
	}
	out := make([]publicPlan, len(plans))
	for i, p := range plans {
		out[i] = publicPlan{
			ID: p.ID, Name: p.Name, Description: p.Description, DurationDays: p.DurationDays,
			ChatUses: p.ChatUses, AnalysisUses: p.AnalysisUses, Price: p.Price, Currency: p.Currency,
			OncePerUser: p.OncePerUser,
		}
	}
	// The same for everyone: shared caches may keep it for a minute.
	c.Response().Header().Set("Cache-Control", "public, max-age=60")
	return c.JSON(http.StatusOK, out)
}
