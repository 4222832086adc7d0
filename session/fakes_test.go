package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/store"
)

// Fakes for the session's unit tests: an in-memory Storage with the store's charging and
// settlement rules, and scripted providers. The integration tests in server/ run the same code
// against PostgreSQL and the OpenAI simulator over HTTP.

type fakeCharge struct {
	store.Charge
	userID  string
	outcome string // "" while unsettled
	reason  string
}

type fakeStore struct {
	mu          sync.Mutex
	memberships map[string]*store.Membership
	initial     map[string]*int
	charges     []*fakeCharge
	refunds     map[int64]string // charge id → reason
	convs       map[string]store.Conversation
	messages    map[string][]store.Message
	audio       map[string][]byte
	failCharge  error         // ChargeChatUse answers this
	chargeDelay time.Duration // a charge takes this long, whatever its context says
	failRecord  int           // RecordTurn fails this many times
	reviews     map[string]*store.Review
	profiles    map[string]store.Profile
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		memberships: map[string]*store.Membership{}, initial: map[string]*int{}, refunds: map[int64]string{},
		convs: map[string]store.Conversation{}, messages: map[string][]store.Message{}, audio: map[string][]byte{},
	}
}

// member adds a user's membership with uses (nil: unlimited).
func (f *fakeStore) member(userID string, uses *int) store.Membership {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := &store.Membership{ID: uuid.NewString(), UserID: userID, ExpiresAt: time.Now().Add(time.Hour), RemainingChatUses: copyInt(uses)}
	f.memberships[m.ID] = m
	f.initial[m.ID] = copyInt(uses)
	return *m
}

func copyInt(p *int) *int {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func (f *fakeStore) Now() time.Time { return time.Now() }

func (f *fakeStore) UserMembership(_ context.Context, userID, id string) (store.Membership, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.memberships[id]
	if !ok {
		return store.Membership{}, store.ErrNotFound
	}
	if m.UserID != userID {
		return store.Membership{}, store.ErrForbidden
	}
	out := *m
	out.RemainingChatUses = copyInt(m.RemainingChatUses)
	return out, nil
}

func (f *fakeStore) ChargeChatUse(_ context.Context, userID, membershipID, reason string) (store.Charge, error) {
	time.Sleep(f.chargeDelay)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failCharge != nil {
		return store.Charge{}, f.failCharge
	}
	m, ok := f.memberships[membershipID]
	switch {
	case !ok:
		return store.Charge{}, store.ErrNotFound
	case m.UserID != userID:
		return store.Charge{}, store.ErrForbidden
	case m.RemainingChatUses != nil && *m.RemainingChatUses <= 0:
		return store.Charge{}, store.ErrQuotaExhausted
	}
	if m.RemainingChatUses != nil {
		*m.RemainingChatUses--
	}
	c := &fakeCharge{Charge: store.Charge{ID: int64(len(f.charges) + 1), MembershipID: membershipID, Remaining: copyInt(m.RemainingChatUses)}, userID: userID, reason: reason}
	f.charges = append(f.charges, c)
	return c.Charge, nil
}

func (f *fakeStore) refundLocked(chargeID int64, reason string) (*int, error) {
	if chargeID < 1 || int(chargeID) > len(f.charges) {
		return nil, store.ErrNotFound
	}
	c := f.charges[chargeID-1]
	switch c.outcome {
	case store.OutcomeRefunded:
		return nil, store.ErrAlreadyRefunded
	case store.OutcomeAnswered:
		return nil, store.ErrAlreadySettled
	}
	c.outcome = store.OutcomeRefunded
	f.refunds[chargeID] = reason
	m := f.memberships[c.MembershipID]
	if m.RemainingChatUses != nil {
		*m.RemainingChatUses++
	}
	return copyInt(m.RemainingChatUses), nil
}

func (f *fakeStore) RefundChatUse(_ context.Context, chargeID int64, reason string) (*int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refundLocked(chargeID, reason)
}

func (f *fakeStore) RecordTurn(_ context.Context, rec store.TurnRecord) (store.Settlement, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRecord > 0 {
		f.failRecord--
		return store.Settlement{}, errors.New("fake: database unavailable")
	}
	out := store.Settlement{Outcome: rec.Outcome}
	if id := rec.Message.ChargeID; id != nil {
		c := f.charges[*id-1]
		switch {
		case c.outcome != "":
			out.Outcome = c.outcome
		case rec.Outcome == store.OutcomeRefunded:
			if _, err := f.refundLocked(*id, rec.RefundReason); err != nil {
				return store.Settlement{}, err
			}
		default:
			c.outcome = store.OutcomeAnswered
		}
		out.Remaining = copyInt(f.memberships[c.MembershipID].RemainingChatUses)
	}
	for _, m := range f.messages[rec.Message.ConversationID] {
		if m.TurnID == rec.Message.TurnID {
			return out, nil
		}
	}
	f.messages[rec.Message.ConversationID] = append(f.messages[rec.Message.ConversationID], rec.Message)
	return out, nil
}

func (f *fakeStore) CreateConversation(_ context.Context, userID, membershipID, channel, level, topic string) (store.Conversation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := store.Conversation{ID: uuid.NewString(), UserID: userID, MembershipID: membershipID, Channel: channel, Level: level, Topic: topic}
	f.convs[c.ID] = c
	return c, nil
}

func (f *fakeStore) UserConversation(_ context.Context, userID, id string) (store.Conversation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.convs[id]
	if !ok || c.UserID != userID {
		return store.Conversation{}, store.ErrNotFound
	}
	return c, nil
}

func (f *fakeStore) RecentMessages(_ context.Context, id string, limit int) ([]store.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	msgs := f.messages[id]
	if len(msgs) > limit {
		msgs = msgs[len(msgs)-limit:]
	}
	return append([]store.Message(nil), msgs...), nil
}

func (f *fakeStore) TruncateMessage(_ context.Context, convID, turnID, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, m := range f.messages[convID] {
		if m.TurnID == turnID {
			f.messages[convID][i].TutorText = text
			return nil
		}
	}
	return store.ErrNotFound
}

func (f *fakeStore) SetTurnAudio(_ context.Context, convID, turnID string, user, tutor *string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, m := range f.messages[convID] {
		if m.TurnID == turnID {
			if user != nil {
				f.messages[convID][i].UserAudioID = user
			}
			if tutor != nil {
				f.messages[convID][i].TutorAudioID = tutor
			}
		}
	}
	return nil
}

func (f *fakeStore) SaveAudioAs(_ context.Context, id, _, _ string, data []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "" {
		id = uuid.NewString()
	}
	f.audio[id] = data
	return id, nil
}

func (f *fakeStore) UnsettledCharges(_ context.Context, _ time.Time, limit int) ([]store.Unsettled, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Unsettled
	for _, c := range f.charges {
		if c.outcome == "" && len(out) < limit {
			out = append(out, store.Unsettled{ID: c.ID, MembershipID: c.MembershipID})
		}
	}
	return out, nil
}

// ledger checks the ledger identity of a membership and returns its charges and refunds and the
// answered turns: initial − remaining = charges − refunds = answered charges.
func (f *fakeStore) ledger(t *testing.T, membershipID string) (charges, refunds, answered int) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.charges {
		if c.MembershipID != membershipID {
			continue
		}
		charges++
		switch c.outcome {
		case store.OutcomeRefunded:
			refunds++
		case store.OutcomeAnswered:
			answered++
		default:
			t.Errorf("charge %d of membership %s is unsettled", c.ID, membershipID)
		}
	}
	if init, m := f.initial[membershipID], f.memberships[membershipID]; init != nil {
		if spent := *init - *m.RemainingChatUses; spent != charges-refunds {
			t.Errorf("membership %s: initial − remaining = %d, charges − refunds = %d", membershipID, spent, charges-refunds)
		}
	}
	if charges-refunds != answered {
		t.Errorf("membership %s: charges − refunds = %d but %d turns were answered", membershipID, charges-refunds, answered)
	}
	return charges, refunds, answered
}

// status returns how the turn was recorded ("" when it was not).
func (f *fakeStore) status(turnID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, msgs := range f.messages {
		for _, m := range msgs {
			if m.TurnID == turnID {
				return m.Status
			}
		}
	}
	return ""
}

// fakeSTT hears the scripted transcripts in order, then def.
type fakeSTT struct {
	mu     sync.Mutex
	script []string
	def    string
	delay  time.Duration
	err    error
	calls  int
	// hear, when set, gives the transcript of the audio (by its length, say).
	hear func(a Audio) string
}

func (s *fakeSTT) say(texts ...string) {
	s.mu.Lock()
	s.script = append(s.script, texts...)
	s.mu.Unlock()
}

func (s *fakeSTT) Transcribe(ctx context.Context, a Audio) (string, error) {
	s.mu.Lock()
	s.calls++
	text, err := s.def, s.err
	if len(s.script) > 0 {
		text, s.script = s.script[0], s.script[1:]
	}
	if s.hear != nil {
		text = s.hear(a)
	}
	s.mu.Unlock()
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return text, err
}

// fakeChat answers reply, a token at a time.
type fakeChat struct {
	mu    sync.Mutex
	reply string
	first time.Duration // until the first token
	calls int
	reqs  []ChatRequest
	at    time.Time // when it was last asked
	err   error     // StreamChat fails with it
}

func (c *fakeChat) StreamChat(ctx context.Context, req ChatRequest) (ChatStream, error) {
	c.mu.Lock()
	c.calls++
	c.at = time.Now()
	c.reqs = append(c.reqs, req)
	reply, first, err := c.reply, c.first, c.err
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &fakeStream{ctx: ctx, tokens: strings.SplitAfter(reply, " "), first: first}, nil
}

func (c *fakeChat) requests() []ChatRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ChatRequest(nil), c.reqs...)
}

type fakeStream struct {
	ctx    context.Context
	tokens []string
	first  time.Duration
	n      int
}

func (s *fakeStream) Recv() (string, error) {
	if s.n == 0 && s.first > 0 {
		select {
		case <-time.After(s.first):
		case <-s.ctx.Done():
			return "", s.ctx.Err()
		}
	}
	if s.ctx.Err() != nil {
		return "", s.ctx.Err()
	}
	if s.n >= len(s.tokens) {
		return "", io.EOF
	}
	s.n++
	return s.tokens[s.n-1], nil
}

func (s *fakeStream) Close() error { return nil }

// fakeTTS speaks msPerChar of audio per character, speed times faster than real time.
type fakeTTS struct {
	msPerChar int
	speed     float64
	failAfter int // fail the synthesis after this many bytes when > 0
}

func (f *fakeTTS) Synthesize(ctx context.Context, text, _ string) (io.ReadCloser, error) {
	n := len(text) * f.msPerChar * outputBytesPerMs
	pr, pw := io.Pipe()
	go func() {
		chunk := 4800 // 100 ms
		buf := make([]byte, chunk)
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		sent := 0
		for sent < n {
			m := min(chunk, n-sent)
			if f.failAfter > 0 && sent >= f.failAfter {
				pw.CloseWithError(errors.New("fake: speech connection reset"))
				return
			}
			select {
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
				return
			case <-time.After(time.Duration(float64(bytesDur(int64(m))) / f.speed)):
			}
			if _, err := pw.Write(buf[:m]); err != nil {
				return
			}
			sent += m
		}
		pw.Close()
	}()
	return pr, nil
}

// rig is a hub on fakes behind a real WebSocket server.
type rig struct {
	t     testing.TB
	store *fakeStore
	stt   *fakeSTT
	chat  *fakeChat
	tts   *fakeTTS
	tutor *Tutor
	hub   *Hub
	srv   *httptest.Server
	users map[string]store.Membership // by user id
}

func newRig(t testing.TB, cfg HubConfig) *rig {
	t.Helper()
	r := &rig{
		t: t, store: newFakeStore(), stt: &fakeSTT{def: "hello tutor"},
		chat: &fakeChat{reply: "Hi there. How are you today? Tell me more."},
		tts:  &fakeTTS{msPerChar: 40, speed: 10}, users: map[string]store.Membership{},
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	tutor, err := NewTutor(TutorConfig{
		Providers: Providers{Name: "fake", STT: r.stt, Chat: r.chat, TTS: r.tts},
		Store:     r.store, Logger: logger, Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	r.tutor = tutor
	cfg.CheckOrigin = func(string, string) bool { return true }
	r.hub = NewHub(tutor, cfg)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		userID := req.URL.Query().Get("user")
		m := r.users[userID]
		err := r.hub.Open(w, req, Params{
			User: store.User{ID: userID}, Membership: m,
			ConversationID: req.URL.Query().Get("conversationId"), Logger: logger,
			Realtime: req.URL.Query().Get("realtime") != "",
		})
		if err != nil {
			p, _ := ProblemOf(err)
			http.Error(w, p.Code, p.Status)
		}
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.hub.Shutdown(ctx) //nolint:errcheck
		r.tutor.Close(ctx)  //nolint:errcheck
		r.srv.Close()
	})
	return r
}

type testLogWriter struct{ t testing.TB }

var testLogMu sync.Mutex

func (w testLogWriter) Write(p []byte) (int, error) {
	testLogMu.Lock()
	defer testLogMu.Unlock()
	defer func() { recover() }() //nolint:errcheck // logging after the test ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// learner adds a user with a membership of uses chat uses (nil: unlimited).
func (r *rig) learner(uses *int) (userID string, m store.Membership) {
	userID = uuid.NewString()
	m = r.store.member(userID, uses)
	r.users[userID] = m
	return userID, m
}

// dial opens a session for the user (continuing conversationID when given) and reads
// session.created.
func (r *rig) dial(userID, conversationID string, opts ...client.Options) (*client.Client, map[string]any) {
	r.t.Helper()
	url := fmt.Sprintf("ws%s/?user=%s", strings.TrimPrefix(r.srv.URL, "http"), userID)
	if conversationID != "" {
		url += "&conversationId=" + conversationID
	}
	var o client.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	c, err := client.Dial(context.Background(), url, o)
	if err != nil {
		r.t.Fatalf("dial: %v", err)
	}
	r.t.Cleanup(func() { c.Close() })
	ev, err := c.Next(5 * time.Second)
	if err != nil || ev.Type != TypeSessionCreated {
		r.t.Fatalf("first event %v %v", ev.Type, err)
	}
	var created map[string]any
	ev.Decode(&created) //nolint:errcheck
	return c, created
}

func intp(n int) *int { return &n }

// Reviews and profiles of the fake store (reviews are tested against PostgreSQL in server/).

func (f *fakeStore) Messages(_ context.Context, id string) ([]store.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]store.Message(nil), f.messages[id]...)
	for i := range out {
		out[i].ID = int64(i + 1)
	}
	return out, nil
}

func (f *fakeStore) ClaimReview(_ context.Context, userID, membershipID, convID string, upto int64) (store.Review, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reviews == nil {
		f.reviews = map[string]*store.Review{}
	}
	key := fmt.Sprintf("%s/%d", convID, upto)
	if r, ok := f.reviews[key]; ok {
		if r.Status == store.ReviewPending {
			return store.Review{}, false, store.ErrReviewPending
		}
		return *r, false, nil
	}
	r := &store.Review{ID: uuid.NewString(), ConversationID: convID, UserID: userID, MembershipID: membershipID, UptoMessageID: upto, Status: store.ReviewPending}
	f.reviews[key] = r
	return *r, true, nil
}

func (f *fakeStore) CompleteReview(_ context.Context, id, cefr string, body, fluency json.RawMessage, engine string) (store.Review, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.reviews {
		if r.ID == id {
			r.Status, r.CEFR, r.Body, r.Fluency, r.Engine = store.ReviewDone, &cefr, store.JSONB(body), store.JSONB(fluency), engine
			return *r, nil
		}
	}
	return store.Review{}, store.ErrNotFound
}

func (f *fakeStore) AbandonReview(_ context.Context, id, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, r := range f.reviews {
		if r.ID == id {
			delete(f.reviews, k)
		}
	}
	return nil
}

func (f *fakeStore) ReviewByState(_ context.Context, convID string, upto int64) (store.Review, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.reviews[fmt.Sprintf("%s/%d", convID, upto)]; ok {
		return *r, nil
	}
	return store.Review{}, store.ErrNotFound
}

func (f *fakeStore) LatestReview(_ context.Context, convID string) (store.Review, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var best *store.Review
	for _, r := range f.reviews {
		if r.ConversationID == convID && r.Status == store.ReviewDone && (best == nil || r.UptoMessageID > best.UptoMessageID) {
			best = r
		}
	}
	if best == nil {
		return store.Review{}, store.ErrNotFound
	}
	return *best, nil
}

func (f *fakeStore) ReviewsByUser(_ context.Context, userID string, _ int) ([]store.Review, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Review
	for _, r := range f.reviews {
		if r.UserID == userID && r.Status == store.ReviewDone {
			out = append(out, *r)
		}
	}
	return out, nil
}

func (f *fakeStore) LearnerProfile(_ context.Context, userID string) (store.Profile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.profiles[userID]; ok {
		return p, nil
	}
	return store.Profile{}, store.ErrNotFound
}

func (f *fakeStore) SaveLearnerProfile(_ context.Context, p store.Profile) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.profiles == nil {
		f.profiles = map[string]store.Profile{}
	}
	f.profiles[p.UserID] = p
	return nil
}

func (f *fakeStore) DeleteLearnerProfile(_ context.Context, userID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.profiles, userID)
	return nil
}
