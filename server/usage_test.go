package server

import (
	"testing"

	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/store"
)

// TestDescribeUsage: every kind of ledger row reads as words; analysis uses (reviews) never read
// as chat turns.
func TestDescribeUsage(t *testing.T) {
	answered, refunded := store.OutcomeAnswered, store.OutcomeRefunded
	for _, tc := range []struct {
		name  string
		entry store.LedgerEntry
		want  string
	}{
		{"a review", store.LedgerEntry{Kind: "charge", Resource: "analysis", Reason: "review", Outcome: &answered}, "Conversation review"},
		{"a review being written", store.LedgerEntry{Kind: "charge", Resource: "analysis", Reason: "review"}, "Conversation review (being written)"},
		{"a review refunded", store.LedgerEntry{Kind: "charge", Resource: "analysis", Reason: "review", Outcome: &refunded}, "Conversation review (refunded: it could not be written)"},
		{"a review's refund", store.LedgerEntry{Kind: "refund", Resource: "analysis", Reason: session.RefundProviderError}, "Refunded: the review could not be written"},
		{"a review's refund by the reconciler", store.LedgerEntry{Kind: "refund", Resource: "analysis", Reason: session.RefundReconciled}, "Refunded: the review could not be written (it was interrupted)"},
		{"a typed turn", store.LedgerEntry{Kind: "charge", Resource: "chat", Reason: session.ChannelText, Outcome: &answered, UserText: "Hello there"}, "Typed conversation turn: “Hello there”"},
		{"a chat refund", store.LedgerEntry{Kind: "refund", Resource: "chat", Reason: session.RefundProviderError, UserText: "Hello"}, "Refunded: the tutor could not answer: “Hello”"},
		{"a chat refund by the reconciler", store.LedgerEntry{Kind: "refund", Resource: "chat", Reason: session.RefundReconciled}, "Refunded: the conversation was interrupted before the answer reached you"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describeUsage(tc.entry); got != tc.want {
				t.Errorf("describeUsage(%+v) = %q, want %q", tc.entry, got, tc.want)
			}
		})
	}
}
