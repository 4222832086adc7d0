package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aitutor/aitutor/cmd/aitutor/internal/loadgen"
	"github.com/aitutor/aitutor/session/openaisim"
)

// runBench drives a running server with protocol v1 and REST load (see scripts/bench.sh, which
// starts the server, the simulator and PostgreSQL).
func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:3001", "the server")
	debugURL := fs.String("debug-url", "", "the server's DEBUG_ADDR as a URL (for memory figures)")
	pid := fs.Int("server-pid", 0, "the server's process id (for CPU and resident memory)")
	profileName := fs.String("profile", "standard", "the simulator profile the server's provider runs")
	only := fs.String("only", "", "comma-separated items: first-audio,realtime,voice-to-voice,overhead,overhead-s3,audio-writes,audio-compression,capacity,memory,rest,review,cluster (default all; cluster needs -instances)")
	s3URL := fs.String("s3-url", "", "a second server on the same database with AUDIO_STORE=s3 (overhead-s3, audio-writes)")
	s3PID := fs.Int("s3-server-pid", 0, "that server's process id")
	turns := fs.Int("turns", 30, "turns per path for first audio")
	sessions := fs.Int("sessions", 200, "concurrent talking sessions")
	steps := fs.String("capacity-steps", "250,500,1000,1500,2000", "session counts tried for capacity")
	window := fs.Duration("capacity-window", 0, "streaming time per capacity step (default 20s)")
	idle := fs.Int("idle", 10000, "idle sessions for memory")
	jsonOut := fs.String("json", "", "write the report as JSON here")
	mdOut := fs.String("md", "", "write the report as Markdown here")
	command := fs.String("command", "aitutor bench", "the command line to print in the report")
	instances := fs.String("instances", "", "comma-separated URLs of the instances behind -url (a load balancer): runs the cluster item")
	restart := fs.String("restart-command", "", "shell command that restarts one instance, run halfway through the cluster item")
	clusterLearners := fs.Int("cluster-learners", 40, "learners talking in the cluster item")
	clusterWindow := fs.Duration("cluster-window", 40*time.Second, "how long the cluster item runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	profile, err := openaisim.ProfileByName(*profileName)
	if err != nil {
		return err
	}
	cfg := loadgen.Config{
		URL: strings.TrimRight(*url, "/"), DebugURL: strings.TrimRight(*debugURL, "/"), ServerPID: *pid,
		DatabaseURL: os.Getenv("DATABASE_URL"), JWTSecret: os.Getenv("JWT_SECRET"), Profile: profile,
		Turns: *turns, OverheadSessions: *sessions, CapacityWindow: *window, IdleSessions: *idle,
		S3URL: strings.TrimRight(*s3URL, "/"), S3ServerPID: *s3PID,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, nil)),
		RestartCommand: *restart, ClusterLearners: *clusterLearners, ClusterWindow: *clusterWindow,
	}
	for _, u := range strings.Split(*instances, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			cfg.Instances = append(cfg.Instances, u)
		}
	}
	if cfg.DatabaseURL == "" || cfg.JWTSecret == "" {
		return fmt.Errorf("bench: DATABASE_URL and JWT_SECRET must be the server's (learners are created in its database)")
	}
	if *only != "" {
		cfg.Only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			cfg.Only[strings.TrimSpace(s)] = true
		}
	}
	for _, s := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("bench: -capacity-steps: %q is not a session count", s)
		}
		cfg.CapacitySteps = append(cfg.CapacitySteps, n)
	}
	rep, err := loadgen.Run(ctx, cfg)
	if rep != nil {
		md := rep.Markdown(*command)
		fmt.Println(md)
		if *mdOut != "" {
			if werr := os.WriteFile(*mdOut, []byte(md), 0o644); werr != nil {
				return werr
			}
		}
		if *jsonOut != "" {
			b, _ := json.MarshalIndent(rep, "", "  ")
			if werr := os.WriteFile(*jsonOut, b, 0o644); werr != nil {
				return werr
			}
		}
	}
	return err
}
