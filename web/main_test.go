package web_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the tests leave no goroutine behind: every browser, tab, server and
// console reader is stopped by its test's cleanup.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
