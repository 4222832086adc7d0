// Command aitutor is the AI English tutor's voice server.
//
//	aitutor [serve]              migrate, then serve HTTP, REST and WebSocket sessions
//	aitutor migrate              apply database migrations
//	aitutor seed                 create sample plans, a demo learner, an admin and a demo company (idempotent)
//	aitutor token --email E      print a signed JWT for an existing user
//	aitutor migrate-audio        move stored audio from PostgreSQL to the object store (AUDIO_STORE=s3)
//	aitutor sim [--addr A] [--profile P]   run the OpenAI-compatible simulator
//	aitutor bench [flags]        drive a server with protocol v1 load (see docs/BENCHMARKS.md)
//	aitutor health               exit 0 when the local server is ready (container health check)
//
// Configuration comes from the environment and from .env when present (see README.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/joho/godotenv"

	"github.com/aitutor/aitutor/cmd/aitutor/internal/providers"
	"github.com/aitutor/aitutor/cmd/aitutor/internal/seed"
	"github.com/aitutor/aitutor/server"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
	"github.com/aitutor/aitutor/web"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "aitutor:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if _, err := os.Stat(".env"); err == nil {
		if err := godotenv.Load(".env"); err != nil {
			return fmt.Errorf(".env: %w", err)
		}
	}
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "sim":
		return runSim(ctx, args)
	case "bench":
		return runBench(ctx, args)
	case "health":
		return health(ctx)
	case "serve", "migrate", "seed", "token", "migrate-audio":
	case "help", "-h", "--help":
		fmt.Println(usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}

	cfg, err := server.Load(os.Getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, os.Stderr)
	if err := cfg.RequireDatabase(); err != nil {
		return err
	}
	var storeOpts []store.Option
	if cfg.AudioStore == server.AudioStoreS3 && (cmd == "serve" || cmd == "migrate-audio") {
		objects, err := openObjects(ctx, cfg, logger)
		if err != nil {
			return err
		}
		storeOpts = append(storeOpts, store.WithObjects(objects))
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, storeOpts...)
	if err != nil {
		return err
	}
	defer st.Close()

	switch cmd {
	case "migrate":
		return migrate(ctx, st, logger)
	case "seed":
		if err := migrate(ctx, st, logger); err != nil {
			return err
		}
		return runSeed(ctx, st, cfg)
	case "token":
		return token(ctx, st, cfg, args)
	case "migrate-audio":
		if err := migrate(ctx, st, logger); err != nil {
			return err
		}
		return migrateAudio(ctx, st, cfg, logger, args)
	}
	return serve(ctx, st, cfg, logger)
}

const usage = `usage: aitutor [serve|migrate|seed|token --email E|migrate-audio|sim|bench|health]`

// health checks that the local server is ready (for container health checks).
func health(ctx context.Context) error {
	port := os.Getenv("PORT")
	if port == "" {
		port = "3001"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: /readyz answered %d", resp.StatusCode)
	}
	return nil
}

func newLogger(cfg server.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) //nolint:errcheck // validated by Load
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func migrate(ctx context.Context, st *store.Store, logger *slog.Logger) error {
	res, err := st.Migrate(ctx, logger)
	if err != nil {
		return err
	}
	logger.Info("database migrated", "from", res.From, "to", res.To, "applied", len(res.Applied))
	return nil
}

func runSeed(ctx context.Context, st *store.Store, cfg server.Config) error {
	res, err := seed.Seed(ctx, st, cfg.Development(), seed.Passwords{
		Learner: os.Getenv("SEED_LEARNER_PASSWORD"), Admin: os.Getenv("SEED_ADMIN_PASSWORD"),
	})
	if err != nil {
		return err
	}
	fmt.Printf("seeded %d plans\n", len(res.Plans))
	for _, who := range []struct {
		label string
		user  store.User
		pass  string
	}{{"learner", res.Learner, res.LearnerPassword}, {"admin", res.Admin, res.AdminPassword}} {
		if who.pass != "" {
			fmt.Printf("%-8s %s  password: %s\n", who.label, who.user.Email, who.pass)
		} else {
			fmt.Printf("%-8s %s  (already existed; password unchanged)\n", who.label, who.user.Email)
		}
	}
	fmt.Printf("learner membership %s (%s, %s)\n", res.Membership.ID, res.Membership.Plan.Name, res.Membership.Status)
	fmt.Printf("company  %s  join code: %s  (its plan: %s)\n", res.Company.Name, res.CompanyCode, res.CompanyPlan.Name)
	return nil
}

func token(ctx context.Context, st *store.Store, cfg server.Config, args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	email := fs.String("email", "", "e-mail of an existing user")
	ttl := fs.Duration("ttl", 0, "token lifetime (default JWT_TTL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("token: --email is required")
	}
	if err := cfg.RequireJWT(); err != nil {
		return err
	}
	if *ttl > 0 {
		cfg.TokenTTL = *ttl
	}
	tok, _, err := seed.Token(ctx, st, cfg, *email)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

func serve(ctx context.Context, st *store.Store, cfg server.Config, logger *slog.Logger) error {
	if cfg.JWTSecretIsDev {
		logger.Warn("JWT_SECRET is not set: APP_ENV=development signs tokens with a fixed, public development secret. Never expose this server.")
	}
	if err := migrate(ctx, st, logger); err != nil {
		return err
	}
	engines, release, err := providers.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer release()
	srv, err := server.New(cfg, server.Deps{Store: st, Providers: engines, Logger: logger, Web: web.Handler()})
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

func runSim(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8089", "listen address")
	profileName := fs.String("profile", "standard", "latency profile: "+fmt.Sprint(openaisim.ProfileNames()))
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := openaisim.ProfileByName(*profileName)
	if err != nil {
		return err
	}
	base, err := openaisim.New(p).Listen(ctx, *addr)
	if err != nil {
		return err
	}
	fmt.Printf("OpenAI simulator (%s profile) at %s\nuse it with: AI_PROVIDER=openai OPENAI_BASE_URL=%s OPENAI_API_KEY=sim\n", p.Name, base, base)
	<-ctx.Done()
	time.Sleep(100 * time.Millisecond)
	return nil
}
