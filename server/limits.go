package server

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/aitutor/aitutor/store"
)

// userLimiter is a token bucket per account, for routes that make the providers work (each
// instance keeps its own buckets; the daily caps that must hold across instances are counted
// in PostgreSQL).
type userLimiter struct {
	mu      sync.Mutex
	rate    rate.Limit
	burst   int
	buckets map[string]*userBucket
	sweep   time.Time
}

type userBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newUserLimiter(perMinute float64, burst int) *userLimiter {
	return &userLimiter{rate: rate.Limit(perMinute / 60), burst: burst, buckets: map[string]*userBucket{}}
}

// allow takes a token of the user's bucket.
func (l *userLimiter) allow(userID string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > 10*time.Minute {
		for id, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, id)
			}
		}
		l.sweep = now
	}
	b, ok := l.buckets[userID]
	if !ok {
		b = &userBucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[userID] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// sharedLimiter is echo's rate limiter store on windows counted in PostgreSQL, so that a limit
// holds across every instance behind a load balancer: at most limit requests per identifier in
// each window.
type sharedLimiter struct {
	store  *store.Store
	prefix string
	window time.Duration
	limit  int
	logger *slog.Logger
}

// Allow counts a request; when the database cannot count, the request is let through (it will
// meet the same database and fail with 503 there).
func (l *sharedLimiter) Allow(identifier string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ok, err := l.store.TakeRate(ctx, l.prefix+identifier, l.window, l.limit)
	if err != nil {
		l.logger.Warn("rate limit not counted", "key", l.prefix, "err", err)
		return true, nil
	}
	return ok, nil
}

// authWindow is the window of the sign-in and sign-up limit: AUTH_RATE_LIMIT requests a second
// on average over a minute, plus a burst of four seconds' worth (at least 10).
const authWindow = time.Minute

func authWindowLimit(perSecond float64) int {
	return int(math.Ceil(perSecond*authWindow.Seconds())) + max(10, int(perSecond*4))
}
