//go:build !pocketsphinx || !cgo

package offline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aitutor/aitutor/session"
)

// The recognizer without the pocketsphinx build tag: every turn writes the utterance to a
// temporary WAV file and runs pocketsphinx_continuous on it, which loads the model each time.

// needsPocketsphinxBinary: this recognizer runs pocketsphinx_continuous.
const needsPocketsphinxBinary = true

// processRecognizer runs pocketsphinx_continuous per utterance.
type processRecognizer struct {
	bin   string
	model sphinxModel
}

func newRecognizer(cfg Config, model sphinxModel) (recognizer, error) {
	return &processRecognizer{bin: cfg.PocketsphinxPath, model: model}, nil
}

func (r *processRecognizer) describe() string {
	return "per-turn process: pocketsphinx_continuous loads the model on every turn (build with -tags pocketsphinx to keep it loaded)"
}

func (r *processRecognizer) close() error { return nil }

func (r *processRecognizer) recognize(ctx context.Context, samples []int16) (string, error) {
	f, err := os.CreateTemp("", "aitutor-stt-*.wav")
	if err != nil {
		return "", fmt.Errorf("offline: stt: %w: %w", session.ErrProvider, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(session.WAV(session.EncodePCM16(nil, samples), sttRate))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("offline: stt: writing %s: %w: %w", f.Name(), session.ErrProvider, err)
	}
	args := append([]string{"-infile", f.Name()}, r.model.args()...)
	cmd := exec.CommandContext(ctx, r.bin, append(args, "-logfn", os.DevNull)...)
	var stdout bytes.Buffer
	stderr := &limitedBuffer{max: 512}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("offline: stt: pocketsphinx_continuous: %w: %w: %s", session.ErrProvider, err, stderr.String())
	}
	// One line per stretch of speech that pocketsphinx found in the file.
	return strings.Join(strings.Fields(stdout.String()), " "), nil
}
