package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePrivate serves h on addr, a listener of its own (METRICS_ADDR, DEBUG_ADDR) that should
// stay on loopback or a private network.
func servePrivate(name, addr string, h http.Handler, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: %s %s: %w", name, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	logger.Info("private listener", "serves", name, "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}

// serveDebug serves Go's pprof profiles on addr (DEBUG_ADDR), a separate listener that should
// stay on loopback or a private network: profiles reveal internals. /debug/pprof/heap?gc=1
// collects garbage first, which the benchmarks use to measure memory per session.
func serveDebug(addr string, logger *slog.Logger) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return servePrivate("DEBUG_ADDR", addr, mux, logger)
}
