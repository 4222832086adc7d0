//go:build pocketsphinx && cgo

package offline

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdlib.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/cmn.h>

// aitutor_cmn is the decoder's cepstral mean normalization state.
static cmn_t *aitutor_cmn(ps_decoder_t *ps) { return ps_get_feat(ps)->cmn_struct; }
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/aitutor/aitutor/session"
)

// The recognizer with the pocketsphinx build tag: libpocketsphinx through cgo. A decoder holds
// the model and is not safe for concurrent use, so a small pool of them is loaded at start-up
// and each turn borrows one. Audio is fed in short chunks, so a cancelled turn gives its
// decoder back within a chunk's decoding time.
//
// A decoder adapts its cepstral mean (the channel's colour) from one utterance to the next. The
// pool serves every session, so each utterance starts again from the model's initial mean:
// learners' microphones do not affect each other, and a turn is recognised the same way
// whichever decoder takes it, exactly as pocketsphinx_continuous (a fresh process) does.

// needsPocketsphinxBinary: this recognizer links the library instead.
const needsPocketsphinxBinary = false

// feedSamples is how much audio goes to the decoder between checks of the context (250 ms).
const feedSamples = sttRate / 4

// errPoolClosed: the engines were closed.
var errPoolClosed = errors.New("offline: speech recognizer closed")

// decoderPool lends decoders to turns.
type decoderPool struct {
	idle      chan *decoder
	all       []*decoder
	closed    chan struct{}
	closeOnce sync.Once
}

func newRecognizer(cfg Config, model sphinxModel) (recognizer, error) {
	// Logging is process-wide in sphinxbase; switch it off (not via -logfn, which reopens a
	// shared log file on every ps_init).
	C.err_set_callback(nil, nil)
	C.err_set_logfp(nil)
	p := &decoderPool{idle: make(chan *decoder, cfg.Decoders), closed: make(chan struct{})}
	for range cfg.Decoders {
		d, err := newDecoder(model.args())
		if err != nil {
			p.free()
			return nil, err
		}
		p.all = append(p.all, d)
		p.idle <- d
	}
	return p, nil
}

func (p *decoderPool) describe() string {
	return fmt.Sprintf("cgo decoder pool: %d libpocketsphinx decoders keep the model loaded", len(p.all))
}

func (p *decoderPool) recognize(ctx context.Context, samples []int16) (string, error) {
	select {
	case <-p.closed:
		return "", fmt.Errorf("%w: %w", session.ErrProvider, errPoolClosed)
	default:
	}
	var d *decoder
	select {
	case d = <-p.idle:
	case <-ctx.Done():
		return "", ctx.Err()
	case <-p.closed:
		return "", fmt.Errorf("%w: %w", session.ErrProvider, errPoolClosed)
	}
	defer func() { p.idle <- d }()
	return d.decode(ctx, samples)
}

// close waits until every decoder is back, then frees them.
func (p *decoderPool) close() error {
	p.closeOnce.Do(func() {
		close(p.closed)
		for range p.all {
			<-p.idle
		}
		p.free()
	})
	return nil
}

func (p *decoderPool) free() {
	for _, d := range p.all {
		d.free()
	}
	p.all = nil
}

// decoder is one ps_decoder_t with its configuration.
type decoder struct {
	ps     *C.ps_decoder_t
	config *C.cmd_ln_t
	argv   **C.char // C copies of the arguments; sphinxbase may keep pointers to them
	argc   int
	cmn0   *C.mfcc_t // the initial cepstral mean
}

func newDecoder(args []string) (*decoder, error) {
	args = append([]string{"aitutor"}, args...) // argv[0] is skipped as the program name
	argv := (**C.char)(C.malloc(C.size_t(len(args)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	list := unsafe.Slice(argv, len(args))
	for i, a := range args {
		list[i] = C.CString(a)
	}
	d := &decoder{argv: argv, argc: len(args)}
	d.config = C.cmd_ln_parse_r(nil, C.ps_args(), C.int32(len(args)), argv, C.TRUE)
	if d.config == nil {
		d.free()
		return nil, fmt.Errorf("offline: pocketsphinx rejected the options %v", args[1:])
	}
	d.ps = C.ps_init(d.config)
	if d.ps == nil {
		d.free()
		return nil, fmt.Errorf("offline: pocketsphinx could not load the model (%v); reinstall it with: %s", args[1:], InstallCommand)
	}
	cmn := C.aitutor_cmn(d.ps)
	if cmn == nil {
		d.free()
		return nil, errors.New("offline: pocketsphinx decoder has no cepstral mean normalization")
	}
	d.cmn0 = (*C.mfcc_t)(C.malloc(C.size_t(cmn.veclen) * C.sizeof_mfcc_t))
	C.cmn_live_get(cmn, d.cmn0)
	return d, nil
}

// decode runs one utterance through the decoder.
func (d *decoder) decode(ctx context.Context, samples []int16) (string, error) {
	C.cmn_live_set(C.aitutor_cmn(d.ps), d.cmn0)
	if C.ps_start_utt(d.ps) < 0 {
		return "", fmt.Errorf("offline: stt: ps_start_utt: %w", session.ErrProvider)
	}
	for off := 0; off < len(samples); off += feedSamples {
		if err := ctx.Err(); err != nil {
			C.ps_end_utt(d.ps)
			return "", err
		}
		chunk := samples[off:min(off+feedSamples, len(samples))]
		if C.ps_process_raw(d.ps, (*C.int16)(unsafe.Pointer(&chunk[0])), C.size_t(len(chunk)), C.FALSE, C.FALSE) < 0 {
			C.ps_end_utt(d.ps)
			return "", fmt.Errorf("offline: stt: ps_process_raw: %w", session.ErrProvider)
		}
	}
	if C.ps_end_utt(d.ps) < 0 {
		return "", fmt.Errorf("offline: stt: ps_end_utt: %w", session.ErrProvider)
	}
	hyp := C.ps_get_hyp(d.ps, nil)
	if hyp == nil {
		return "", nil
	}
	return C.GoString(hyp), nil
}

func (d *decoder) free() {
	if d.ps != nil {
		C.ps_free(d.ps) // releases its reference to the configuration
		d.ps = nil
	}
	if d.config != nil {
		C.cmd_ln_free_r(d.config)
		d.config = nil
	}
	if d.cmn0 != nil {
		C.free(unsafe.Pointer(d.cmn0))
		d.cmn0 = nil
	}
	if d.argv != nil {
		for _, s := range unsafe.Slice(d.argv, d.argc) {
			C.free(unsafe.Pointer(s))
		}
		C.free(unsafe.Pointer(d.argv))
		d.argv = nil
	}
}
