# syntax=docker/dockerfile:1
# Two runtime images:
#   docker build -t aitutor .                      offline engines included (espeak-ng, pocketsphinx)
#   docker build --target openai -t aitutor:openai .   static binary on distroless, for OpenAI-compatible providers only

FROM golang:1.26-bookworm AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libpocketsphinx-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# With the offline recognizer linked in (cgo).
RUN go build -trimpath -ldflags='-s -w' -tags pocketsphinx -o /out/aitutor ./cmd/aitutor
# Fully static, no cgo: the offline recognizer falls back to pocketsphinx_continuous.
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/aitutor-static ./cmd/aitutor

FROM gcr.io/distroless/static-debian12:nonroot AS openai
COPY --from=build /out/aitutor-static /aitutor
ENV AI_PROVIDER=openai PORT=3001
EXPOSE 3001
USER nonroot:nonroot
HEALTHCHECK --interval=30s --timeout=5s CMD ["/aitutor", "health"]
ENTRYPOINT ["/aitutor"]
CMD ["serve"]

FROM debian:bookworm-slim AS full
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends ca-certificates espeak-ng pocketsphinx pocketsphinx-en-us libpocketsphinx3 ffmpeg \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin aitutor
COPY --from=build /out/aitutor /usr/local/bin/aitutor
ENV PORT=3001
EXPOSE 3001
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/aitutor", "health"]
ENTRYPOINT ["/usr/local/bin/aitutor"]
CMD ["serve"]
