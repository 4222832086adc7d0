# aitutor — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/aitutor
# Build the in-process pocketsphinx decoder (cgo) when its library is installed; otherwise the
# offline recognizer runs pocketsphinx_continuous per turn.
TAGS  ?= $(shell pkg-config --exists pocketsphinx sphinxbase 2>/dev/null && echo pocketsphinx)

.PHONY: run test bench fuzz screenshots build lint clean

## run: start everything (local PostgreSQL when DATABASE_URL is unset, migrations, seed data,
## the server on :3001; offline speech engines when no OpenAI key is set)
run:
	@scripts/run.sh

## test: start a throwaway PostgreSQL (unless TEST_DATABASE_URL is set) and run every test
test:
	@scripts/test.sh

## fuzz: fuzz every decoder that takes outside bytes for FUZZTIME each (default 1m)
fuzz:
	@scripts/fuzz.sh

## screenshots: regenerate docs/screenshots (every page in headless Chromium, both themes,
## a phone's and a desktop's size, on a seeded server and a throwaway PostgreSQL)
screenshots:
	@scripts/screenshots.sh

## bench: measure latency, overhead, capacity and memory; writes docs/BENCHMARKS.md
bench:
	@scripts/bench.sh

build:
	$(GO) build -tags '$(TAGS)' -o $(BIN) ./cmd/aitutor

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet -tags '$(TAGS)' ./...

clean:
	rm -rf bin test-artifacts
