package session

import (
	"testing"
	"time"
)

// A panic in the writer closes the session at once, instead of leaving it without a writer
// until the read deadline.
func TestWriterPanicClosesTheSession(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{PongWait: time.Minute})
	user, _ := r.learner(intp(3))
	c, _ := r.dial(user, "")
	r.hub.mu.Lock()
	var s *Session
	for live := range r.hub.sessions {
		s = live
	}
	r.hub.mu.Unlock()
	s.enqueue(outMsg{kind: kindAudio, data: []byte{0, 0}}) // an audio frame without its turn: the writer panics
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("the session stayed open after its writer panicked")
	}
	deadline := time.Now().Add(3 * time.Second)
	for r.hub.Live() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := r.hub.Live(); n != 0 {
		t.Fatalf("%d sessions live", n)
	}
}
