package app

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Health checks a server configured by the same flags and HUSH_* variables
// — GET /healthz on --metrics when that is set, else a TCP dial to
// --listen — for a container healthcheck in an image with no shell or
// curl. It returns nil only if the server answered.
func Health(args []string, getenv func(string) string, out io.Writer) error {
	cfg, err := ParseConfig(args, getenv, out)
	if err != nil {
		return err
	}
	const timeout = 3 * time.Second
	if cfg.Metrics != "" {
		url := "http://" + dialable(cfg.Metrics) + "/healthz"
		client := &http.Client{Timeout: timeout}
		resp, err := client.Get(url)
		if err != nil {
			return fmt.Errorf("health: %w", err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1024))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s answered %s", url, resp.Status)
		}
		return nil
	}
	conn, err := net.DialTimeout("tcp", dialable(cfg.Listen), timeout)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	return conn.Close()
}

// dialable turns a listen address (":2222", "0.0.0.0:2222") into one to
// dial on this machine.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
