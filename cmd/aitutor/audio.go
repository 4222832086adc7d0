package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/aitutor/aitutor/server"
	"github.com/aitutor/aitutor/store"
)

// openObjects connects to the object store of AUDIO_STORE=s3 and checks its bucket (creating
// it when missing), waiting up to a minute for a store that starts with the server (compose).
func openObjects(ctx context.Context, cfg server.Config, logger *slog.Logger) (*store.Objects, error) {
	objects, err := store.NewObjects(cfg.S3)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		err := objects.Ensure(ctx)
		if err == nil {
			logger.Info("stored audio goes to the object store", "endpoint", cfg.S3.Endpoint, "bucket", cfg.S3.Bucket)
			return objects, nil
		}
		if !errors.Is(err, store.ErrAudioUnavailable) || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("AUDIO_STORE=s3: %w", err)
		}
		logger.Warn("waiting for the object store", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// migrateAudio moves the stored clips held in PostgreSQL to the object store, in batches. It
// may run while the servers serve (they should already run with AUDIO_STORE=s3, so that no new
// clip lands in PostgreSQL), be stopped at any time and run again: it goes on where it stopped.
func migrateAudio(ctx context.Context, st *store.Store, cfg server.Config, logger *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("migrate-audio", flag.ContinueOnError)
	batch := fs.Int("batch", 100, "clips listed per query")
	workers := fs.Int("workers", 4, "clips moved at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.AudioStore != server.AudioStoreS3 {
		return errors.New("migrate-audio: set AUDIO_STORE=s3 and S3_ENDPOINT, S3_BUCKET and the AWS key variables: the clips go there")
	}
	notBefore := time.Now().Add(-cfg.AudioRetention)
	clips, size, err := st.AudioInDatabase(ctx, notBefore)
	if err != nil {
		return err
	}
	logger.Info("moving stored audio to the object store", "clips", clips, "bytes", size, "bucket", cfg.S3.Bucket)
	start := time.Now()
	res, err := st.MigrateAudio(ctx, store.MigrateOptions{
		NotBefore: notBefore, Batch: *batch, Workers: *workers,
		Progress: func(m store.AudioMigration) {
			logger.Info("moving stored audio", "moved", m.Moved, "of", clips, "bytes", m.Bytes, "vanished", m.Vanished)
		},
	})
	fmt.Printf("moved %d clips (%d bytes) to %s in %s; %d were purged or moved by another run meanwhile\n",
		res.Moved, res.Bytes, cfg.S3.Bucket, time.Since(start).Round(time.Millisecond), res.Vanished)
	if err != nil {
		return fmt.Errorf("%w (run migrate-audio again to go on)", err)
	}
	left, _, err := st.AudioInDatabase(ctx, notBefore)
	if err != nil {
		return err
	}
	if left > 0 {
		fmt.Printf("%d clips were written to PostgreSQL meanwhile: is every server running with AUDIO_STORE=s3? Run migrate-audio again.\n", left)
	}
	return nil
}
