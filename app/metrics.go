package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hush-chat/hush/metrics"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/session"
)

// metricsServer is the optional --metrics HTTP listener. A nil one is off;
// its methods then do nothing.
type metricsServer struct {
	m   *metrics.Metrics
	ln  net.Listener
	srv *http.Server
}

// newMetricsServer prepares metrics for reg when --metrics is set; listen
// starts serving them.
func newMetricsServer(cfg Config, reg rooms.Registry, build metrics.Build) *metricsServer {
	if cfg.Metrics == "" {
		return nil
	}
	return &metricsServer{m: metrics.New(reg, build)}
}

// hooks is what the SSH front end is told through (nil when off).
func (ms *metricsServer) hooks() session.Metrics {
	if ms == nil {
		return nil
	}
	return ms.m
}

// metrics is what the other front ends count through (nil when off).
func (ms *metricsServer) metrics() *metrics.Metrics {
	if ms == nil {
		return nil
	}
	return ms.m
}

// listen opens the --metrics listener; App.serve serves it.
func (ms *metricsServer) listen(cfg Config, log *slog.Logger) error {
	if ms == nil {
		return nil
	}
	ln, err := net.Listen("tcp", cfg.Metrics)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	ms.ln = ln
	ms.srv = &http.Server{Handler: ms.m.Handler(), ReadHeaderTimeout: 5 * time.Second}
	log.Info("metrics listening", "addr", ln.Addr().String())
	return nil
}

// serve answers on ln until close.
func (ms *metricsServer) serve(ln net.Listener) error {
	if err := ms.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (ms *metricsServer) setHealthy(ok bool) {
	if ms != nil {
		ms.m.SetHealthy(ok)
	}
}

func (ms *metricsServer) addr() string {
	if ms == nil || ms.ln == nil {
		return ""
	}
	return ms.ln.Addr().String()
}

func (ms *metricsServer) close() {
	if ms == nil || ms.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = ms.srv.Shutdown(ctx)
}
