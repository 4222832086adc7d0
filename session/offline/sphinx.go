package offline

import "context"

// Speech recognition with pocketsphinx and its US-English model. Two recognizers share this
// interface: a pool of libpocketsphinx decoders that keep the model loaded (sphinx_cgo.go,
// build tag pocketsphinx) and a pocketsphinx_continuous process per turn (sphinx_exec.go).

// recognizer decodes one utterance of 16 kHz mono speech.
type recognizer interface {
	// recognize returns pocketsphinx's hypothesis ("" for none). Failures wrap
	// session.ErrProvider; a cancelled ctx returns ctx.Err().
	recognize(ctx context.Context, samples []int16) (string, error)
	// describe names the recognizer for the start-up log.
	describe() string
	// close releases it once the recognitions running have ended.
	close() error
}

// sphinxModel is the acoustic model directory, the language model and the dictionary.
type sphinxModel struct {
	hmm, lm, dict string
}

// args are the decoder options shared by both recognizers.
func (m sphinxModel) args() []string {
	return []string{"-hmm", m.hmm, "-lm", m.lm, "-dict", m.dict, "-samprate", "16000"}
}
