package session

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// The tutor's greeting (POST /api/tutor/init): its text and stored speech. Speech is cached by
// text and voice, shared by everyone who asks for the same words, so that the prototype's
// frontend, which asks for the same welcome text on every visit, costs one synthesis.

const greetingCacheSize = 512

// GreetingResult is what POST /api/tutor/init answers.
type GreetingResult struct {
	Text    string
	AudioID string
	Cached  bool // the speech was synthesized before
}

// Greet returns the tutor's greeting (or text, when given) and its stored speech. Speech that is
// not cached is synthesized only when allow (may be nil) lets it: the caller's limits on what
// an account may make the providers do.
func (e *Tutor) Greet(ctx context.Context, text, voice string, allow func() error) (GreetingResult, error) {
	if voice == "" {
		voice = e.voice
	}
	if text == "" {
		text = Greeting("")
	}
	key := voice + "\x00" + text
	if id, ok := e.greetings.get(key); ok {
		return GreetingResult{Text: text, AudioID: id, Cached: true}, nil
	}
	if allow != nil {
		if err := allow(); err != nil {
			return GreetingResult{}, err
		}
	}
	pcm, err := e.synthesizeAll(ctx, text, voice)
	if err != nil {
		return GreetingResult{}, err
	}
	// Owned by nobody: anyone who asks for the same words gets the same clip.
	id, err := e.store.SaveAudioAs(ctx, "", "", "audio/wav", WAV(pcm, OutputSampleRate))
	if err != nil {
		return GreetingResult{}, err
	}
	e.greetings.put(key, id)
	return GreetingResult{Text: text, AudioID: id}, nil
}

// speechCache maps text and voice to a stored clip: least recently used out, entries younger
// than ttl (stored audio is purged after AUDIO_RETENTION; the cache keeps half of it).
type speechCache struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	order *list.List // of *cacheEntry, most recent first
	byKey map[string]*list.Element
}

type cacheEntry struct {
	key     string
	id      string
	created time.Time
}

func newSpeechCache(max int, ttl time.Duration) *speechCache {
	return &speechCache{max: max, ttl: ttl, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *speechCache) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return "", false
	}
	e := el.Value.(*cacheEntry)
	if time.Since(e.created) > c.ttl {
		c.order.Remove(el)
		delete(c.byKey, key)
		return "", false
	}
	c.order.MoveToFront(el)
	return e.id, true
}

func (c *speechCache) put(key, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.order.Remove(el)
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry{key: key, id: id, created: time.Now()})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*cacheEntry).key)
	}
}
