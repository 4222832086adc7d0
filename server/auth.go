package server

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/aitutor/aitutor/store"
)

// Claims are the JWT claims: id, email, role, exp. Tokens of the prototype's {id, email} shape
// (no role) are read as role user; the role that counts is always the one in the database.
type Claims struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Role  string `json:"role,omitempty"`
	jwt.RegisteredClaims
}

// Tokens signs and verifies HS256 JWTs.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewTokens returns a signer and verifier for secret.
func NewTokens(secret []byte, ttl time.Duration) *Tokens {
	return &Tokens{secret: secret, ttl: ttl, now: time.Now}
}

// Issue signs a token for u.
func (t *Tokens) Issue(u store.User) (string, error) {
	now := t.now()
	claims := Claims{
		ID: u.ID, Email: u.Email, Role: u.Role,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   u.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
}

// Verify checks the signature (HS256 only) and the expiry, and returns the claims.
func (t *Tokens) Verify(token string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(30*time.Second),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return nil, err
	}
	if c.ID == "" {
		return nil, errors.New("token has no id claim")
	}
	if c.Role == "" {
		c.Role = store.RoleUser
	}
	return &c, nil
}

var errUnauthorized = newError(http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")

// currentUser is the authenticated caller, set by authenticate.
func currentUser(c echo.Context) store.User {
	u, _ := c.Get("user").(store.User)
	return u
}

// bearerToken reads the token from "Authorization: Bearer <jwt>" or, for browser WebSockets,
// from the "bearer.<jwt>" entry of Sec-WebSocket-Protocol (protocol v1) or its
// "openai-insecure-api-key.<jwt>" entry (the Realtime endpoint, as OpenAI's browser clients send
// their key).
func bearerToken(r *http.Request) string {
	if h := r.Header.Get(echo.HeaderAuthorization); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	for _, p := range websocketProtocols(r) {
		if tok, ok := strings.CutPrefix(p, "bearer."); ok {
			return tok
		}
		if tok, ok := strings.CutPrefix(p, "openai-insecure-api-key."); ok {
			return tok
		}
	}
	return ""
}

// authenticateRequest resolves the caller from the token and the database (deleted users and
// bad or expired tokens get 401).
func (s *Server) authenticateRequest(ctx context.Context, r *http.Request) (store.User, error) {
	tok := bearerToken(r)
	if tok == "" {
		return store.User{}, errUnauthorized
	}
	claims, err := s.tokens.Verify(tok)
	if err != nil {
		return store.User{}, newError(http.StatusUnauthorized, "invalid_token", "the token is invalid or expired")
	}
	u, err := s.store.UserByID(ctx, claims.ID)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, newError(http.StatusUnauthorized, "invalid_token", "the token's user no longer exists")
	}
	return u, err
}

// authenticate is the middleware of every route that needs a signed-in user.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, err := s.authenticateRequest(c.Request().Context(), c.Request())
		if err != nil {
			return err
		}
		c.Set("user", u)
		return next(c)
	}
}

// requireAdmin lets only role admin through; it runs after authenticate.
func requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if currentUser(c).Role != store.RoleAdmin {
			return newError(http.StatusForbidden, "forbidden", "this route is for administrators")
		}
		return next(c)
	}
}

type signupRequest struct {
	Name         string `json:"name"`
	Email        string `json:"email"`
	Password     string `json:"password"`
	Region       string `json:"region"`
	CustomerType string `json:"customerType"`
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type authResponse struct {
	Token string     `json:"token"`
	User  store.User `json:"user"`
}

// dummyHash keeps sign-in with an unknown e-mail as slow as with a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.DefaultCost)

// signup: POST /api/auth/signup — anyone.
func (s *Server) signup(c echo.Context) error {
	var req signupRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	req.Name = strings.TrimSpace(req.Name)
	req.Email = strings.TrimSpace(req.Email)
	if req.Name == "" || utf8.RuneCountInString(req.Name) > 200 {
		return badRequest("name is required (at most 200 characters)")
	}
	if err := validEmail(req.Email); err != nil {
		return err
	}
	if len(req.Password) < 8 || len(req.Password) > 72 {
		return badRequest("password must be 8 to 72 bytes long")
	}
	// Learners sign themselves up as consumers; they become company (B2B) learners by joining
	// their company with its code (POST /api/companies/join).
	if req.CustomerType != "" && req.CustomerType != store.B2C {
		return badRequest("customerType must be B2C: company learners join their company with its code after signing up")
	}
	req.CustomerType = store.B2C
	if utf8.RuneCountInString(req.Region) > 100 {
		return badRequest("region is at most 100 characters")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.Password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	u, err := s.store.CreateUser(c.Request().Context(), store.NewUser{
		Name: req.Name, Email: req.Email, PasswordHash: string(hash), Region: req.Region, CustomerType: req.CustomerType,
	})
	if err != nil {
		return err
	}
	tok, err := s.tokens.Issue(u)
	if err != nil {
		return err
	}
	s.logger.InfoContext(c.Request().Context(), "user signed up", "user", u.ID)
	return c.JSON(http.StatusCreated, authResponse{Token: tok, User: u})
}

// login: POST /api/auth/login — anyone.
func (s *Server) login(c echo.Context) error {
	var req loginRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.Email == "" || req.Password == "" {
		return badRequest("email and password are required")
	}
	wrong := newError(http.StatusUnauthorized, "invalid_credentials", "wrong e-mail or password")
	u, err := s.store.UserByEmail(c.Request().Context(), strings.TrimSpace(req.Email))
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.PasswordHash == nil) {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(req.Password)) //nolint:errcheck // timing only
		return wrong
	}
	if err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(*u.PasswordHash), []byte(req.Password)) != nil {
		return wrong
	}
	tok, err := s.tokens.Issue(u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, authResponse{Token: tok, User: u})
}

func validEmail(email string) error {
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 320 || !strings.Contains(email[strings.LastIndex(email, "@"):], ".") {
		return badRequest("email is not a valid e-mail address")
	}
	return nil
}
