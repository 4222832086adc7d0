package session

import "time"

// playback models the learner's player from the server's side: the client plays the reply's
// frames back to back in real time from the moment the writer wrote them, and stops when the
// learner starts talking over the tutor (speech.started) or presses Stop. The billing rule asks
// of it when the learner finished hearing the first sentence; pacing asks how much audio the
// client holds that it has not played yet.
//
// Positions are byte offsets into the reply's audio (24 kHz 16-bit mono: outputBytesPerMs bytes
// a millisecond). A resumed reply plays again from the start of the sentence it was cut in, so
// positions may go back: each stretch of continuous playing is a run.
type playback struct {
	runs []playRun
	head time.Time // when the client runs out of written audio
	// queued is like head for the audio handed to the writer, for pacing.
	queued time.Time
	// firstEnd is the offset where the first sentence ends (-1 until its speech is complete).
	firstEnd int64
	// firstHeard is when the client finishes (or finished) playing the first sentence in the
	// current runs; zero when that is not known yet.
	firstHeard time.Time
}

type playRun struct {
	start  time.Time // when the run began playing
	offset int64     // the reply offset it began at
	length int64     // bytes in the run
}

func newPlayback() playback { return playback{firstEnd: -1} }

func bytesDur(n int64) time.Duration { return time.Duration(n) * time.Millisecond / outputBytesPerMs }

func durBytes(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(d/time.Millisecond)*outputBytesPerMs + int64(d%time.Millisecond)*outputBytesPerMs/int64(time.Millisecond)
}

// written records n bytes from offset written to the socket at now.
func (p *playback) written(offset int64, n int, now time.Time) {
	last := len(p.runs) - 1
	if last < 0 || now.After(p.head) || p.runs[last].offset+p.runs[last].length != offset {
		p.runs = append(p.runs, playRun{start: maxTime(now, p.head), offset: offset})
		if len(p.runs) > 32 { // an unsteady provider: keep the recent runs
			p.runs = append(p.runs[:0], p.runs[len(p.runs)-16:]...)
		}
		last = len(p.runs) - 1
		p.head = p.runs[last].start
	}
	p.runs[last].length += int64(n)
	p.head = p.head.Add(bytesDur(int64(n)))
	p.findFirstHeard()
}

// setFirstEnd records where the first sentence's speech ends.
func (p *playback) setFirstEnd(offset int64) {
	if p.firstEnd < 0 {
		p.firstEnd = offset
		p.findFirstHeard()
	}
}

func (p *playback) findFirstHeard() {
	if p.firstEnd < 0 || !p.firstHeard.IsZero() {
		return
	}
	for _, r := range p.runs {
		if r.offset <= p.firstEnd && p.firstEnd <= r.offset+r.length {
			p.firstHeard = r.start.Add(bytesDur(p.firstEnd - r.offset))
			return
		}
	}
}

// heardFirst reports whether the learner had heard the first sentence in full at time at.
func (p *playback) heardFirst(at time.Time) bool {
	return !p.firstHeard.IsZero() && !p.firstHeard.After(at)
}

// position is the offset the client plays at time at (the furthest point of the runs begun by
// then).
func (p *playback) position(at time.Time) int64 {
	var pos int64
	for _, r := range p.runs {
		if r.start.After(at) {
			break
		}
		pos = max(pos, r.offset+min(r.length, durBytes(at.Sub(r.start))))
	}
	return pos
}

// ahead is how much audio handed to the writer the client has not played at now.
func (p *playback) ahead(now time.Time) time.Duration {
	if !p.queued.After(now) {
		return 0
	}
	return p.queued.Sub(now)
}

// queue records n bytes handed to the writer at now.
func (p *playback) queue(n int, now time.Time) {
	p.queued = maxTime(p.queued, now).Add(bytesDur(int64(n)))
}

// stop cuts playback at time at (the learner started talking, or stopped the tutor): what
// would have played after it was not heard. It returns the position reached.
func (p *playback) stop(at time.Time) int64 {
	pos := p.position(at)
	kept := p.runs[:0]
	for _, r := range p.runs {
		if r.start.After(at) {
			break
		}
		r.length = min(r.length, durBytes(at.Sub(r.start)))
		kept = append(kept, r)
	}
	p.runs = kept
	p.head, p.queued = at, time.Time{}
	if p.firstHeard.After(at) {
		p.firstHeard = time.Time{}
	}
	return pos
}

// end is when the client finishes playing what was written.
func (p *playback) end() time.Time { return p.head }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
