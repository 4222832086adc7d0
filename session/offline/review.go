package offline

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aitutor/aitutor/session"
)

// The offline reviewer writes a conversation's review by rule, never a canned text: the
// corrections are the tutor's correction rules run over every learner turn (corrections.go;
// in spoken turns also the words the recogniser heard as others, such as "sink" for "think"),
// the vocabulary comes from the topics the learner talked about (vocabulary.go), the level from
// measures of their turns and the server's fluency figures (level.go), and the strengths and
// next goals from the same measures and the mistakes found. The same conversation always gets
// the same review.

// maxReviewCorrections is how many corrections a review lists at most (the server keeps 20).
const maxReviewCorrections = 20

// reviewer implements session.Reviewer.
type reviewer struct{}

// Review writes the draft of a conversation's review.
func (reviewer) Review(ctx context.Context, req session.ReviewRequest) (session.ReviewDraft, error) {
	if err := ctx.Err(); err != nil {
		return session.ReviewDraft{}, err
	}
	corrections, perTurn, goals := reviewCorrections(req)
	s := measure(req, perTurn)
	level, capped := s.estimate()
	if s.words == 0 {
		level, capped = 0, ""
	}
	d := session.ReviewDraft{
		Corrections: corrections,
		Vocabulary:  nonNil(vocabulary(req, level)),
		Level:       session.LevelEstimate{CEFR: session.CEFRLevels[level], Reasons: s.reasons(level, capped)},
		Strengths:   s.strengths(),
		NextGoals:   s.nextGoals(goals),
	}
	if s.words == 0 {
		d.Level.Reasons = []string{
			fmt.Sprintf("There were no English words to measure in your %d turns.", len(req.Turns)),
			"Without English words to go on, the estimate is the lowest level, A1.",
		}
	}
	return d, nil
}

// practice is what to practise after a kind of mistake, and how often the learner made it.
type practice struct {
	goal  string
	count int
	first int // order of the first such mistake
}

// reviewCorrections runs the correction rules over every learner turn, sentence by sentence.
// It returns the corrections (at most maxReviewCorrections), the mistakes of each turn (rule
// matches: "my sister don't went" is two) and what to practise, most frequent first.
func reviewCorrections(req session.ReviewRequest) ([]session.Correction, []int, []practice) {
	var out []session.Correction
	perTurn := make([]int, len(req.Turns))
	goals := map[string]*practice{}
	order := 0
	for i, t := range req.Turns {
		if analyse(t.Learner).kind == kindForeign {
			continue
		}
		rules := corrections
		if t.Spoken {
			rules = append(append([]correction{}, corrections...), soundsLike...)
		}
		for _, sentence := range sentences(t.Learner) {
			for _, f := range findMistakes(sentence, rules) {
				perTurn[i] += len(f.mistakes)
				var explanations []string
				for _, m := range f.mistakes {
					if e := m.rule.explain(m.sub); !contains(explanations, e) {
						explanations = append(explanations, e)
					}
					p := goals[m.rule.goal]
					if p == nil {
						p = &practice{goal: m.rule.goal, first: order}
						goals[m.rule.goal] = p
						order++
					}
					p.count++
				}
				if len(out) < maxReviewCorrections {
					out = append(out, session.Correction{
						TurnID:      t.TurnID,
						Original:    f.original,
						Corrected:   f.corrected,
						Kind:        f.mistakes[0].rule.kind,
						Explanation: strings.Join(explanations, " "),
					})
				}
			}
		}
	}
	var ranked []practice
	for _, p := range goals {
		ranked = append(ranked, *p)
	}
	sort.Slice(ranked, func(i, j int) bool {
		if ranked[i].count != ranked[j].count {
			return ranked[i].count > ranked[j].count
		}
		return ranked[i].first < ranked[j].first
	})
	return nonNil(out), perTurn, ranked
}

// strengths are one to three things the learner did well, from the measures.
func (s signals) strengths() []string {
	var out []string
	if s.words >= minWrittenWords && s.mistakes == 0 {
		out = append(out, fmt.Sprintf("You avoided the common mistakes the tutor checks for (such as \"he go\" or \"I am agree\") in all %d words.", s.words))
	}
	if s.perTurn >= 10 {
		out = append(out, fmt.Sprintf("You gave full, detailed answers: %s words per turn.", num(s.perTurn)))
	}
	switch {
	case len(s.complexLinks) > 0:
		out = append(out, fmt.Sprintf("You built longer sentences with %s.", list(quoted(s.complexLinks[:min(len(s.complexLinks), 3)]))))
	case len(s.simpleLinks) >= 2:
		out = append(out, fmt.Sprintf("You linked your ideas with %s.", list(quoted(s.simpleLinks[:min(len(s.simpleLinks), 3)]))))
	}
	if len(s.forms) >= 2 {
		var forms []string
		for _, f := range s.forms {
			forms = append(forms, formNames[f]+" ("+upperI(s.formExamples[f][:1])[0]+")")
		}
		out = append(out, fmt.Sprintf("You used more than the present: %s.", list(forms)))
	}
	if s.variety >= 0.75 {
		out = append(out, fmt.Sprintf("You used a varied vocabulary: %d different content words in %d.", s.contentTypes, s.contentTokens))
	}
	if s.spoken && *s.fluency.WordsPerMinute >= 110 && (s.fluency.PauseRatio == nil || *s.fluency.PauseRatio < 0.25) {
		out = append(out, fmt.Sprintf("You spoke at an easy pace: about %.0f words per minute with few long pauses.", *s.fluency.WordsPerMinute))
	}
	if len(out) == 0 {
		switch {
		case s.turns > 1:
			out = append(out, fmt.Sprintf("You kept the conversation going in English for %d turns.", s.turns))
		case s.turns == 1:
			out = append(out, "You answered the tutor in English.")
		default:
			out = append(out, "You started a conversation with the tutor.")
		}
	}
	return out[:min(len(out), 3)]
}

// nextGoals are up to three things to practise: the learner's most frequent mistakes first
// (at most two), then what the measures show.
func (s signals) nextGoals(mistakes []practice) []string {
	var out []string
	for _, p := range mistakes[:min(len(mistakes), 2)] {
		out = append(out, p.goal)
	}
	add := func(ok bool, goal string) {
		if ok && len(out) < 3 {
			out = append(out, goal)
		}
	}
	add(s.foreignTurns > 0, "Keep to English, even for a word or two: describe a word you do not know (\"the thing you use to ...\").")
	add(s.turns > 0 && s.perTurn < 7, fmt.Sprintf("Give longer answers: add a reason with because, or an example (you used %s words per turn; aim for 10).", num(s.perTurn)))
	add(s.words >= minWrittenWords && len(s.simpleLinks)+len(s.complexLinks) == 0, "Link your ideas with because, so, when and if.")
	add(s.words >= minWrittenWords && len(s.simpleLinks) > 0 && len(s.complexLinks) == 0 && s.perTurn >= 7, "Build longer sentences with although, which and while.")
	add(s.words >= minWrittenWords && len(s.formExamples["past"]) == 0, "Tell a short story about last weekend to practise the past (I went, I saw, it was).")
	add(s.words >= minWrittenWords && len(s.formExamples["future"]) == 0 && len(s.formExamples["past"]) > 0, "Talk about your plans to practise the future (I will, I'm going to).")
	if s.spoken {
		f := s.fluency
		add(f.PauseRatio != nil && *f.PauseRatio >= 0.3, fmt.Sprintf("Speak in longer runs (%.0f%% of your speaking time was pauses): learn a few ready phrases like \"I think that...\" to gain thinking time.", 100**f.PauseRatio))
		add(f.FillersPerMinute != nil && *f.FillersPerMinute > 6, "Replace um and uh with a short silent pause, or with \"let me think\".")
		add(*f.WordsPerMinute < 80, "Read short texts aloud every day to speak more smoothly and a little faster.")
	}
	add(s.variety >= 0 && s.variety < 0.7, "Vary your words: instead of repeating the same ones, try a synonym (good: great, tasty, useful).")
	add(len(out) < 2 && s.perTurn >= 10 || len(out) == 0, "Try a harder topic next time: give opinions, compare options and imagine (\"If I could ..., I would ...\").")
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
