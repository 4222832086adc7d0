package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aitutor/aitutor/store"
)

// Reviews of conversations (POST /api/conversations/{id}/review), paid with one analysis use
// exactly like turns are paid with chat uses: the use is taken with the claim of the review (one
// transaction, so one conversation state is never charged twice), settled as answered with the
// review, and refunded when no valid review could be written.

// Errors of reviews.
var (
	// ErrNothingToReview: the conversation has no turn of the learner.
	ErrNothingToReview = errors.New("the conversation has no turns to review")
	// ErrReviewInvalid: the reviewer's draft did not validate, twice.
	ErrReviewInvalid = errors.New("the review could not be written")
)

// ReviewStore is what reviews need of the database; *store.Store implements it.
type ReviewStore interface {
	Messages(ctx context.Context, conversationID string) ([]store.Message, error)
	ClaimReview(ctx context.Context, userID, membershipID, conversationID string, upto int64) (store.Review, bool, error)
	CompleteReview(ctx context.Context, id, cefr string, body, fluency json.RawMessage, engine string) (store.Review, error)
	AbandonReview(ctx context.Context, id, reason string) error
	ReviewByState(ctx context.Context, conversationID string, upto int64) (store.Review, error)
	LatestReview(ctx context.Context, conversationID string) (store.Review, error)
	ReviewsByUser(ctx context.Context, userID string, limit int) ([]store.Review, error)
	LearnerProfile(ctx context.Context, userID string) (store.Profile, error)
	SaveLearnerProfile(ctx context.Context, p store.Profile) error
	DeleteLearnerProfile(ctx context.Context, userID string) error
}

const (
	reviewTimeout  = 90 * time.Second // one attempt of the reviewer
	reviewWait     = 2 * time.Minute  // how long a second request waits for a review being written
	maxCorrections = 20
	maxVocabulary  = 15
	maxStrengths   = 5
	maxGoals       = 3
	maxReviewText  = 400 // characters of one field
)

// Review is a finished review of a conversation.
type Review struct {
	ID             string           `json:"id"`
	ConversationID string           `json:"conversationId"`
	MembershipID   string           `json:"membershipId"`
	Corrections    []Correction     `json:"corrections"`
	Vocabulary     []VocabularyItem `json:"vocabulary"`
	Level          LevelEstimate    `json:"level"`
	Fluency        Fluency          `json:"fluency"`
	Strengths      []string         `json:"strengths"`
	NextGoals      []string         `json:"nextGoals"`
	Engine         string           `json:"engine"`
	CreatedAt      time.Time        `json:"createdAt"`
}

// ReviewConversation reviews the user's conversation as it is now. created is false when a
// review of this state existed (nothing is charged then). Refusals: store.ErrNotFound (not the
// user's), ErrNothingToReview, store.ErrAnalysisExhausted and the membership errors; failures:
// ErrReviewInvalid, ErrProvider, ErrProviderTimeout (the use is refunded).
func (e *Tutor) ReviewConversation(ctx context.Context, userID, conversationID string) (Review, bool, error) {
	conv, err := e.store.UserConversation(ctx, userID, conversationID)
	if err != nil {
		return Review{}, false, err
	}
	msgs, err := e.reviews.Messages(ctx, conv.ID)
	if err != nil {
		return Review{}, false, err
	}
	req := reviewRequest(conv, msgs)
	if len(req.Turns) == 0 {
		return Review{}, false, ErrNothingToReview
	}
	upto := msgs[len(msgs)-1].ID
	deadline := time.Now().Add(reviewWait)
	for {
		claim, claimed, err := e.reviews.ClaimReview(ctx, userID, conv.MembershipID, conv.ID, upto)
		switch {
		case err == nil && !claimed:
			r, err := reviewOf(claim)
			return r, false, err
		case err == nil:
			return e.writeReview(ctx, userID, claim, req)
		case !errors.Is(err, store.ErrReviewPending):
			return Review{}, false, err
		}
		// Another request is writing this review: wait for it.
		if time.Now().After(deadline) {
			return Review{}, false, fmt.Errorf("%w: the review is still being written; try again shortly", ErrProviderTimeout)
		}
		select {
		case <-ctx.Done():
			return Review{}, false, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// writeReview asks the reviewer for the claimed review (a draft that does not validate is asked
// for once more), stores it with its charge's settlement, or abandons it with a refund.
func (e *Tutor) writeReview(ctx context.Context, userID string, claim store.Review, req ReviewRequest) (Review, bool, error) {
	ledgerCtx, cancel := ledgerContext(ctx)
	defer cancel()
	abandon := func(err error) (Review, bool, error) {
		if aerr := e.reviews.AbandonReview(ledgerCtx, claim.ID, RefundProviderError); aerr != nil {
			e.logger.Error("abandoning a review; the reconciler will refund it", "review", claim.ID, "err", aerr)
		}
		e.metrics.reviews.WithLabelValues("failed").Inc()
		return Review{}, false, err
	}
	if e.providers.Review == nil {
		return abandon(fmt.Errorf("%w: these providers write no reviews", ErrProvider))
	}
	var draft ReviewDraft
	var err error
	start := time.Now()
	for attempt := 0; attempt < 2; attempt++ {
		draft, err = e.askReviewer(ctx, req)
		if err == nil {
			if draft, err = validateDraft(draft, req); err == nil {
				break
			}
			e.logger.Warn("the reviewer's draft did not validate", "conversation", claim.ConversationID, "attempt", attempt+1, "err", err)
			err = fmt.Errorf("%w: %v", ErrReviewInvalid, err)
			continue
		}
		if ctx.Err() != nil || errors.Is(err, ErrProviderTimeout) {
			break
		}
	}
	if err != nil {
		return abandon(err)
	}
	body, _ := json.Marshal(reviewBody{draft.Corrections, draft.Vocabulary, draft.Level.Reasons, draft.Strengths, draft.NextGoals})
	fluency, _ := json.Marshal(req.Fluency)
	stored, err := e.reviews.CompleteReview(ledgerCtx, claim.ID, draft.Level.CEFR, body, fluency, e.providers.Name)
	if err != nil {
		return abandon(err)
	}
	e.metrics.reviews.WithLabelValues("done").Inc()
	e.metrics.stages.WithLabelValues("review", "total").Observe(time.Since(start).Seconds())
	r, err := reviewOf(stored)
	if err == nil {
		e.learnFrom(ledgerCtx, userID, req, r)
	}
	return r, true, err
}

// askReviewer runs the reviewer once within its time limit.
func (e *Tutor) askReviewer(ctx context.Context, req ReviewRequest) (ReviewDraft, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, reviewTimeout, fmt.Errorf("%w: review: no answer within %v", ErrProviderTimeout, reviewTimeout))
	defer cancel()
	d, err := e.providers.Review.Review(ctx, req)
	if err != nil && !errors.Is(err, ErrReviewInvalid) {
		err = providerError("review", ctx, err)
	}
	return d, err
}

// reviewBody is what is stored of a review besides its level and fluency.
type reviewBody struct {
	Corrections  []Correction     `json:"corrections"`
	Vocabulary   []VocabularyItem `json:"vocabulary"`
	LevelReasons []string         `json:"levelReasons"`
	Strengths    []string         `json:"strengths"`
	NextGoals    []string         `json:"nextGoals"`
}

// reviewOf reads a stored review.
func reviewOf(r store.Review) (Review, error) {
	var b reviewBody
	if err := json.Unmarshal(r.Body, &b); err != nil {
		return Review{}, fmt.Errorf("session: review %s: %w", r.ID, err)
	}
	var f Fluency
	if err := json.Unmarshal(r.Fluency, &f); err != nil {
		return Review{}, fmt.Errorf("session: review %s: %w", r.ID, err)
	}
	cefr := ""
	if r.CEFR != nil {
		cefr = *r.CEFR
	}
	created := r.CreatedAt
	if r.CompletedAt != nil {
		created = *r.CompletedAt
	}
	return Review{
		ID: r.ID, ConversationID: r.ConversationID, MembershipID: r.MembershipID,
		Corrections: nonNil(b.Corrections), Vocabulary: nonNil(b.Vocabulary),
		Level: LevelEstimate{CEFR: cefr, Reasons: nonNil(b.LevelReasons)}, Fluency: f,
		Strengths: nonNil(b.Strengths), NextGoals: nonNil(b.NextGoals), Engine: r.Engine, CreatedAt: created,
	}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// LatestReview returns the newest review of the user's conversation (store.ErrNotFound when
// there is none).
func (e *Tutor) LatestReview(ctx context.Context, userID, conversationID string) (Review, error) {
	conv, err := e.store.UserConversation(ctx, userID, conversationID)
	if err != nil {
		return Review{}, err
	}
	r, err := e.reviews.LatestReview(ctx, conv.ID)
	if err != nil {
		return Review{}, err
	}
	return reviewOf(r)
}

// ReviewsOf returns the user's latest reviews, newest first (progress over time).
func (e *Tutor) ReviewsOf(ctx context.Context, userID string, limit int) ([]Review, error) {
	rs, err := e.reviews.ReviewsByUser(ctx, userID, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Review, 0, len(rs))
	for _, r := range rs {
		rv, err := reviewOf(r)
		if err != nil {
			return nil, err
		}
		out = append(out, rv)
	}
	return out, nil
}

// reviewRequest builds what the reviewer sees, and the fluency figures, from the turns.
func reviewRequest(conv store.Conversation, msgs []store.Message) ReviewRequest {
	req := ReviewRequest{Level: conv.Level, Topic: conv.Topic}
	var spoken []spokenTurn
	for _, m := range msgs {
		if strings.TrimSpace(m.UserText) == "" || m.Status == store.TurnFailed {
			continue
		}
		req.Turns = append(req.Turns, ReviewTurn{TurnID: m.TurnID, Learner: m.UserText, Tutor: m.TutorText, Spoken: m.Speech != nil})
		if m.Speech != nil {
			spoken = append(spoken, spokenTurn{text: m.UserText, speech: *m.Speech})
		}
	}
	req.Fluency = computeFluency(spoken)
	return req
}

// validateDraft checks a reviewer's draft: its enumerations and sizes, and that each
// correction is of words the learner said (a correction that quotes nothing they said is
// dropped). It returns the draft with its corrections tied to their turns.
func validateDraft(d ReviewDraft, req ReviewRequest) (ReviewDraft, error) {
	valid := false
	for _, l := range CEFRLevels {
		valid = valid || d.Level.CEFR == l
	}
	if !valid {
		return d, fmt.Errorf("level %q is not a CEFR level", d.Level.CEFR)
	}
	if len(d.Level.Reasons) == 0 {
		return d, errors.New("the level has no reasons")
	}
	if len(d.Corrections) > 3*maxCorrections || len(d.Vocabulary) > 3*maxVocabulary {
		return d, errors.New("too many corrections or vocabulary items")
	}
	long := func(s string) bool { return utf8.RuneCountInString(s) > maxReviewText }
	for _, list := range [][]string{d.Level.Reasons, d.Strengths, d.NextGoals} {
		for _, s := range list {
			if strings.TrimSpace(s) == "" || long(s) {
				return d, errors.New("an empty or overlong reason, strength or goal")
			}
		}
	}
	kinds := map[string]bool{CorrectionGrammar: true, CorrectionWordChoice: true, CorrectionPronunciation: true, CorrectionRegister: true}
	var kept []Correction
	for _, c := range d.Corrections {
		if !kinds[c.Kind] {
			return d, fmt.Errorf("correction kind %q is unknown", c.Kind)
		}
		if strings.TrimSpace(c.Original) == "" || strings.TrimSpace(c.Corrected) == "" || long(c.Original) || long(c.Corrected) || long(c.Explanation) {
			return d, errors.New("a correction with an empty or overlong field")
		}
		if normalizeSpace(c.Original) == normalizeSpace(c.Corrected) {
			continue // no change
		}
		if turn := findTurn(req.Turns, c); turn != "" && len(kept) < maxCorrections {
			c.TurnID = turn
			kept = append(kept, c)
		}
	}
	d.Corrections = kept
	var vocab []VocabularyItem
	for _, v := range d.Vocabulary {
		if strings.TrimSpace(v.Phrase) == "" || long(v.Phrase) || long(v.Meaning) || long(v.Example) {
			return d, errors.New("a vocabulary item with an empty or overlong field")
		}
		if len(vocab) < maxVocabulary {
			vocab = append(vocab, v)
		}
	}
	d.Vocabulary = vocab
	d.Strengths = d.Strengths[:min(len(d.Strengths), maxStrengths)]
	d.NextGoals = d.NextGoals[:min(len(d.NextGoals), maxGoals)]
	return d, nil
}

// findTurn returns the turn whose learner words hold the correction's original (its own turn
// first), or "".
func findTurn(turns []ReviewTurn, c Correction) string {
	orig := normalizeSpace(c.Original)
	for _, t := range turns {
		if t.TurnID == c.TurnID && strings.Contains(normalizeSpace(t.Learner), orig) {
			return t.TurnID
		}
	}
	for _, t := range turns {
		if strings.Contains(normalizeSpace(t.Learner), orig) {
			return t.TurnID
		}
	}
	return ""
}

func normalizeSpace(s string) string {
	return strings.ToLower(strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == ',' || r == '.' || r == '!' || r == '?' || r == ';' || r == ':' || r == '"'
	}), " "))
}
