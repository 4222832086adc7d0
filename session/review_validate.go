package session

// ValidateReviewDraft checks a reviewer's draft as the server does before it stores a review
// (validateDraft): CEFR level with reasons, known correction kinds, sizes, and corrections that
// quote the learner's words, tied to their turns. Providers' tests use it to check that their
// drafts are accepted.
func ValidateReviewDraft(d ReviewDraft, req ReviewRequest) (ReviewDraft, error) {
	return validateDraft(d, req)
}
