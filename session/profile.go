package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aitutor/aitutor/store"
)

// The learner profile: what the tutor remembers of a learner across conversations, fed by their
// reviews — their level, the mistakes they make again and again, the topics they talked about
// and their goals. A short summary of it (at most maxProfileSummary characters) goes into the
// tutor's instructions, so that it greets a returning learner accordingly and practises their
// weak points. Learners can see it and clear it.

const (
	maxProfileMistakes = 10
	maxProfileTopics   = 8
	maxProfileSummary  = 700
)

// ProfileMistake is a mistake the learner made, and how often reviews found it.
type ProfileMistake struct {
	Kind      string    `json:"kind"`
	Original  string    `json:"original"`
	Corrected string    `json:"corrected"`
	Count     int       `json:"count"`
	LastSeen  time.Time `json:"lastSeen"`
}

// ProfileTopic is something the learner talked about.
type ProfileTopic struct {
	Topic string `json:"topic"`
	Count int    `json:"count"`
}

// Profile is a learner's profile.
type Profile struct {
	Level     string           `json:"level"`
	Mistakes  []ProfileMistake `json:"mistakes"`
	Topics    []ProfileTopic   `json:"topics"`
	Goals     []string         `json:"goals"`
	Reviews   int              `json:"reviews"`
	UpdatedAt *time.Time       `json:"updatedAt"`
}

func profileOf(p store.Profile) Profile {
	out := Profile{Level: p.Level, Reviews: p.Reviews, Mistakes: []ProfileMistake{}, Topics: []ProfileTopic{}, Goals: []string{}}
	json.Unmarshal(p.Mistakes, &out.Mistakes) //nolint:errcheck // written by learnFrom
	json.Unmarshal(p.Topics, &out.Topics)     //nolint:errcheck
	json.Unmarshal(p.Goals, &out.Goals)       //nolint:errcheck
	if !p.UpdatedAt.IsZero() {
		t := p.UpdatedAt
		out.UpdatedAt = &t
	}
	return out
}

// LearnerProfile returns the user's profile (empty when none was made yet).
func (e *Tutor) LearnerProfile(ctx context.Context, userID string) (Profile, error) {
	p, err := e.reviews.LearnerProfile(ctx, userID)
	if err != nil && !isNotFound(err) {
		return Profile{}, err
	}
	return profileOf(p), nil
}

// ForgetProfile clears the user's profile: the tutor no longer knows them (reviews stay).
func (e *Tutor) ForgetProfile(ctx context.Context, userID string) error {
	return e.reviews.DeleteLearnerProfile(ctx, userID)
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// learnFrom folds a new review into the learner's profile (best effort: a failure is logged).
func (e *Tutor) learnFrom(ctx context.Context, userID string, req ReviewRequest, r Review) {
	cur, err := e.reviews.LearnerProfile(ctx, userID)
	if err != nil && !isNotFound(err) {
		e.logger.Warn("reading the learner profile", "user", userID, "err", err)
		return
	}
	p := profileOf(cur)
	p.Level = r.Level.CEFR
	p.Reviews++
	p.Goals = append([]string{}, r.NextGoals...)
	now := time.Now()
	for _, c := range r.Corrections {
		key := strings.ToLower(normalizeSpace(c.Original))
		found := false
		for i := range p.Mistakes {
			if p.Mistakes[i].Kind == c.Kind && strings.ToLower(normalizeSpace(p.Mistakes[i].Original)) == key {
				p.Mistakes[i].Count++
				p.Mistakes[i].Corrected, p.Mistakes[i].LastSeen = c.Corrected, now
				found = true
				break
			}
		}
		if !found {
			p.Mistakes = append(p.Mistakes, ProfileMistake{Kind: c.Kind, Original: c.Original, Corrected: c.Corrected, Count: 1, LastSeen: now})
		}
	}
	sort.SliceStable(p.Mistakes, func(i, j int) bool {
		if p.Mistakes[i].Count != p.Mistakes[j].Count {
			return p.Mistakes[i].Count > p.Mistakes[j].Count
		}
		return p.Mistakes[i].LastSeen.After(p.Mistakes[j].LastSeen)
	})
	p.Mistakes = p.Mistakes[:min(len(p.Mistakes), maxProfileMistakes)]
	for _, topic := range topicsOf(req) {
		found := false
		for i := range p.Topics {
			if p.Topics[i].Topic == topic {
				p.Topics[i].Count++
				found = true
			}
		}
		if !found {
			p.Topics = append(p.Topics, ProfileTopic{Topic: topic, Count: 1})
		}
	}
	sort.SliceStable(p.Topics, func(i, j int) bool { return p.Topics[i].Count > p.Topics[j].Count })
	p.Topics = p.Topics[:min(len(p.Topics), maxProfileTopics)]
	mistakes, _ := json.Marshal(p.Mistakes)
	topics, _ := json.Marshal(p.Topics)
	goals, _ := json.Marshal(p.Goals)
	err = e.reviews.SaveLearnerProfile(ctx, store.Profile{UserID: userID, Level: p.Level, Mistakes: mistakes, Topics: topics, Goals: goals, Reviews: p.Reviews})
	if err != nil {
		e.logger.Warn("saving the learner profile", "user", userID, "err", err)
	}
}

// topicsOf names what a conversation was about: its topic, or the learner's most used content
// words.
func topicsOf(req ReviewRequest) []string {
	if t := strings.TrimSpace(strings.ToLower(req.Topic)); t != "" {
		return []string{t}
	}
	counts := map[string]int{}
	for _, t := range req.Turns {
		for _, w := range strings.FieldsFunc(strings.ToLower(t.Learner), func(r rune) bool { return !(r >= 'a' && r <= 'z') }) {
			if len(w) >= 5 && !stopWords[w] {
				counts[w]++
			}
		}
	}
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	sort.Slice(words, func(i, j int) bool {
		if counts[words[i]] != counts[words[j]] {
			return counts[words[i]] > counts[words[j]]
		}
		return words[i] < words[j]
	})
	return words[:min(len(words), 3)]
}

var stopWords = map[string]bool{
	"about": true, "after": true, "again": true, "always": true, "because": true, "before": true,
	"could": true, "every": true, "first": true, "going": true, "really": true, "should": true,
	"something": true, "there": true, "these": true, "thing": true, "things": true, "think": true,
	"those": true, "where": true, "which": true, "while": true, "would": true, "their": true,
	"would've": true, "maybe": true, "today": true, "yesterday": true, "tomorrow": true, "little": true,
	"other": true, "never": true, "sometimes": true, "usually": true, "weekend": false,
}

// profileSummary is the profile as the tutor's instructions carry it ("" when there is none).
func (e *Tutor) profileSummary(ctx context.Context, userID string) string {
	p, err := e.reviews.LearnerProfile(ctx, userID)
	if err != nil {
		return ""
	}
	return summarize(profileOf(p))
}

func summarize(p Profile) string {
	if p.Reviews == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "This learner has practised with you before (%d reviewed conversation", p.Reviews)
	if p.Reviews != 1 {
		b.WriteString("s")
	}
	b.WriteString(")")
	if p.Level != "" {
		fmt.Fprintf(&b, "; their estimated CEFR level is %s", p.Level)
	}
	b.WriteString(".")
	if len(p.Mistakes) > 0 {
		b.WriteString(" Mistakes they tend to make:")
		for i, m := range p.Mistakes[:min(len(p.Mistakes), 4)] {
			if i > 0 {
				b.WriteString(";")
			}
			fmt.Fprintf(&b, " %q instead of %q", m.Original, m.Corrected)
		}
		b.WriteString(".")
	}
	if len(p.Goals) > 0 {
		fmt.Fprintf(&b, " Their goals: %s.", strings.Join(p.Goals, "; "))
	}
	if len(p.Topics) > 0 {
		names := make([]string, 0, 4)
		for _, t := range p.Topics[:min(len(p.Topics), 4)] {
			names = append(names, t.Topic)
		}
		fmt.Fprintf(&b, " Topics they talked about: %s.", strings.Join(names, ", "))
	}
	b.WriteString(" Greet them as a returning learner and, without lecturing, give them chances to practise these points.")
	s := b.String()
	if len(s) > maxProfileSummary {
		s = s[:maxProfileSummary]
		if i := strings.LastIndex(s, "."); i > 0 {
			s = s[:i+1]
		}
	}
	return s
}
