// Package offline implements the session providers without any API key: espeak-ng speech,
// pocketsphinx recognition and a scripted tutor.
package offline

import (
	"errors"
	"log/slog"

	"github.com/aitutor/aitutor/session"
)

// Config configures the offline engines.
type Config struct {
	Voice  string // espeak-ng voice, e.g. en-us+f3
	Speed  int    // words per minute
	Logger *slog.Logger
}

// Engines are the offline providers.
type Engines struct{}

// New checks that the engines are installed and returns them.
func New(cfg Config) (*Engines, error) {
	return nil, errors.New("offline: not implemented yet")
}

// Providers returns the session providers.
func (e *Engines) Providers() session.Providers { return session.Providers{Name: "offline"} }

// Close releases the engines.
func (e *Engines) Close() error { return nil }
