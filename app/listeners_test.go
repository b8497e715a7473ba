package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hush-chat/hush/internal/logtest"
	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/metrics"
)

// A web or metrics listener that dies ends serving, as the SSH one does:
// Served names it and its address, the log says so, /healthz stops
// answering 200, and Shutdown still says goodbye to the rest.
func TestAnyListenerFailingEndsServing(t *testing.T) {
	for _, which := range []string{"web", "metrics"} {
		t.Run(which, func(t *testing.T) {
			cfg, err := ParseConfig([]string{"--listen", "127.0.0.1:0", "--web", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--data", t.TempDir()}, noEnv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			var log logtest.Buffer
			a, err := Start(cfg, slog.New(slog.NewTextHandler(&log, nil)), metrics.Build{Version: "test", GoVersion: runtime.Version()})
			if err != nil {
				t.Fatal(err)
			}
			ln := a.web.ln
			if which == "metrics" {
				ln = a.metrics.ln
			}
			addr := ln.Addr().String()
			if got := healthz(t, a.MetricsAddr()); got != http.StatusOK {
				t.Fatalf("/healthz %d before the failure", got)
			}
			ln.Close() // what an accept that fails for good looks like to Serve

			var served error
			select {
			case served = <-a.Served():
			case <-time.After(sshtest.Timeout):
				t.Fatalf("Served delivered nothing after the %s listener died; log:\n%s", which, log.String())
			}
			if served == nil || !strings.Contains(served.Error(), which+" listener on "+addr) {
				t.Fatalf("Served: %v, want the %s listener on %s", served, which, addr)
			}
			if !strings.Contains(log.String(), `level=ERROR msg="listener failed" listener=`+which+" addr="+addr) {
				t.Fatalf("no failure logged with the address; log:\n%s", log.String())
			}
			if which == "web" {
				if got := healthz(t, a.MetricsAddr()); got != http.StatusServiceUnavailable {
					t.Fatalf("/healthz %d after the web listener died", got)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := a.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown after the failure: %v", err)
			}
			if _, err := net.DialTimeout("tcp", a.Addr(), time.Second); err == nil {
				t.Fatal("SSH still accepts after Shutdown")
			}
		})
	}
}

// healthz is the status /healthz answers on addr.
func healthz(t *testing.T, addr string) int {
	t.Helper()
	c := &http.Client{Timeout: sshtest.Timeout}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
