package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
)

// Storage keeps ACME accounts, keys and certificates, and the locks that
// let one node order at a time: a directory, or NATS for several nodes.
type Storage = certmagic.Storage

// LetsEncrypt is the ACME directory used when no other is given.
const LetsEncrypt = certmagic.LetsEncryptProductionCA

// ACMEConfig says which names to get certificates for, from which CA,
// where to keep them and where the CA's checks are answered.
type ACMEConfig struct {
	Domains []string
	// CA is the ACME directory URL ("": Let's Encrypt).
	CA    string
	Email string // optional: the CA's contact for expiry notices
	// Roots verifies the CA's own HTTPS (a private CA); nil: the system's.
	Roots *x509.CertPool
	// Storage keeps accounts, keys and certificates, and holds the lock
	// that lets one node order at a time. Dir is used when it is nil.
	Storage Storage
	Dir     string
	// TLSAddr is the HTTPS listener (host:port) that answers TLS-ALPN-01
	// through TLSConfig; HTTPAddr, if not "", the plain HTTP one that
	// answers HTTP-01 through HTTPHandler.
	TLSAddr, HTTPAddr string
	// HTTPSPort is the port plain HTTP is sent on to (0: TLSAddr's), for
	// when people reach the HTTPS listener through another port.
	HTTPSPort int
	// RenewCheck is how often certificates are looked at for renewal
	// (0: every 10 minutes). Tests shorten it.
	RenewCheck time.Duration
	Log        *slog.Logger
}

// ACME obtains certificates for its domains, keeps them in its storage
// and renews them before they expire (when a third of their lifetime is
// left, or earlier if the CA says so), serving the old one until a new
// one is in hand. Failures are logged with the CA's reason, kept for
// LastError, and retried with a growing pause; they never stop anything
// else.
type ACME struct {
	cfg    ACMEConfig
	log    *slog.Logger
	cache  *certmagic.Cache
	magic  *certmagic.Config
	issuer *certmagic.ACMEIssuer
	cancel context.CancelFunc
	stop   sync.Once

	mu      sync.Mutex
	lastErr error
	fails   map[string]int // renewal failures in a row, by domain
}

// renewalPause is how long certmagic waits after the nth renewal failure
// in a row before trying again (its retryIntervals), for the log's
// next_try; the last one repeats.
var renewalPause = []time.Duration{
	time.Minute, 2 * time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 10 * time.Minute, 10 * time.Minute,
	20 * time.Minute, 20 * time.Minute, 20 * time.Minute, 20 * time.Minute,
	30 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute,
	time.Hour, time.Hour, time.Hour, 2 * time.Hour, 2 * time.Hour, 3 * time.Hour, 3 * time.Hour, 6 * time.Hour,
}

// NewACME prepares certificates for cfg.Domains; Start gets them going.
func NewACME(cfg ACMEConfig) (*ACME, error) {
	if len(cfg.Domains) == 0 {
		return nil, errors.New("acme: no domain")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.CA == "" {
		cfg.CA = LetsEncrypt
	}
	storage := cfg.Storage
	if storage == nil {
		if cfg.Dir == "" {
			return nil, errors.New("acme: no storage")
		}
		// Directories 0700, files 0600 (certmagic's FileStorage makes
		// the ones below).
		if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("acme: %w", err)
		}
		storage = &certmagic.FileStorage{Path: cfg.Dir}
	}
	tlsHost, tlsPort, err := splitPort(cfg.TLSAddr)
	if err != nil {
		return nil, fmt.Errorf("acme: TLS address: %w", err)
	}
	a := &ACME{cfg: cfg, log: cfg.Log, fails: make(map[string]int)}
	zl := zapToSlog(cfg.Log, a.retrying)
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return a.magic, nil },
		RenewCheckInterval: cfg.RenewCheck,
		Logger:             zl,
	})
	a.magic = certmagic.New(a.cache, certmagic.Config{
		Storage: storage,
		Logger:  zl,
		OnEvent: a.event,
		// A browser that sends no name (an address typed in) still gets
		// the certificate rather than a failed handshake.
		DefaultServerName: cfg.Domains[0],
	})
	issuer := certmagic.ACMEIssuer{
		CA:           cfg.CA,
		Email:        cfg.Email,
		Agreed:       true,
		TrustedRoots: cfg.Roots,
		// The challenges are answered by hush's own listeners: naming
		// them keeps certmagic from trying to open its own.
		ListenHost:           tlsHost,
		AltTLSALPNPort:       tlsPort,
		DisableHTTPChallenge: cfg.HTTPAddr == "",
		Logger:               zl,
	}
	if cfg.HTTPAddr != "" {
		if _, issuer.AltHTTPPort, err = splitPort(cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("acme: HTTP address: %w", err)
		}
	}
	if cfg.CA != LetsEncrypt {
		issuer.TestCA = "" // certmagic's retry against LE's staging makes sense for LE only
	}
	a.issuer = certmagic.NewACMEIssuer(a.magic, issuer)
	a.magic.Issuers = []certmagic.Issuer{a.issuer}
	return a, nil
}

func splitPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	return host, port, err
}

// Start loads what storage already holds and orders what is missing or
// due, in the background: Start itself does not wait for the CA.
func (a *ACME) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	if err := a.magic.ManageAsync(ctx, a.cfg.Domains); err != nil {
		cancel()
		return fmt.Errorf("acme: %w", err)
	}
	return nil
}

// Stop ends renewals and any order under way.
func (a *ACME) Stop() {
	a.stop.Do(func() {
		if a.cancel != nil {
			a.cancel()
		}
		a.cache.Stop()
	})
}

// TLSConfig serves the certificates and answers TLS-ALPN-01.
func (a *ACME) TLSConfig() *tls.Config {
	c := a.magic.TLSConfig()
	c.MinVersion = tls.VersionTLS12
	// http/1.1 only: the page and its WebSocket need nothing more.
	c.NextProtos = []string{"http/1.1", "acme-tls/1"}
	return c
}

// HTTPHandler answers HTTP-01 and sends everything else to HTTPS.
func (a *ACME) HTTPHandler() http.Handler {
	port := a.cfg.HTTPSPort
	if port == 0 {
		_, port, _ = splitPort(a.cfg.TLSAddr)
	}
	return a.issuer.HTTPChallengeHandler(Redirect(a.cfg.Domains, port))
}

// Expiry is when the first of the certificates serving now expires, zero
// while one is missing.
func (a *ACME) Expiry() time.Time {
	var first time.Time
	for _, d := range a.cfg.Domains {
		var latest time.Time
		for _, c := range a.cache.AllMatchingCertificates(d) {
			if c.Leaf != nil && c.Leaf.NotAfter.After(latest) {
				latest = c.Leaf.NotAfter
			}
		}
		if latest.IsZero() {
			return time.Time{}
		}
		if first.IsZero() || latest.Before(first) {
			first = latest
		}
	}
	return first
}

// LastError is why the last order or renewal failed, nil once one
// succeeded after it.
func (a *ACME) LastError() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastErr
}

// event follows certmagic's certificate events: what the log and
// LastError say.
func (a *ACME) event(ctx context.Context, name string, data map[string]any) error {
	domain, _ := data["identifier"].(string)
	switch name {
	case "cert_obtaining":
		what := "certificate: ordering"
		if data["renewal"] == true {
			what = "certificate: renewing"
		}
		a.log.Info(what, "domain", data["identifier"], "ca", a.cfg.CA)
	case "cert_obtained":
		a.mu.Lock()
		a.lastErr = nil
		delete(a.fails, domain)
		a.mu.Unlock()
		attrs := []any{"domain", data["identifier"], "renewal", data["renewal"] == true}
		if p, ok := data["certificate_path"].(string); ok {
			if exp, err := a.storedExpiry(ctx, p); err == nil {
				attrs = append(attrs, "expires", exp)
			}
		}
		a.log.Info("certificate: obtained", attrs...)
	case "cert_failed":
		err, _ := data["error"].(error)
		if err == nil {
			err = errors.New("unknown error")
		}
		a.mu.Lock()
		a.lastErr = reason(err)
		n := a.fails[domain]
		if data["renewal"] == true {
			a.fails[domain]++
		}
		a.mu.Unlock()
		if data["renewal"] == true {
			// Renewals are tried again at the first look past certmagic's
			// pause, which grows with each failure.
			wait := renewalPause[min(n, len(renewalPause)-1)]
			every := a.cfg.RenewCheck
			if every == 0 {
				every = certmagic.DefaultRenewCheckInterval
			}
			a.log.Error("certificate: renewal failed; the current one serves on", "domain", data["identifier"],
				"reason", reason(err), "retry_at", time.Now().Add(max(wait, every)).UTC().Format(time.RFC3339))
		}
		// A first order's failure is logged by retrying, with its time.
	}
	return nil
}

// retrying logs a failed order with the CA's reason and when it is tried
// again (from certmagic's "will retry").
func (a *ACME) retrying(err error, in time.Duration) {
	a.log.Error("certificate: order failed", "domains", strings.Join(a.cfg.Domains, ","),
		"reason", reason(err), "retry_at", time.Now().Add(in).UTC().Format(time.RFC3339))
}

func (a *ACME) storedExpiry(ctx context.Context, key string) (time.Time, error) {
	b, err := a.magic.Storage.Load(ctx, key)
	if err != nil {
		return time.Time{}, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return time.Time{}, errors.New("no PEM")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return time.Time{}, err
	}
	return c.NotAfter, nil
}

// reason is the CA's own words when it gave some (an ACME problem: a rate
// limit, a domain that does not point here), else err.
func reason(err error) error {
	var p acme.Problem
	if errors.As(err, &p) {
		return fmt.Errorf("%s: %s", strings.TrimPrefix(p.Type, "urn:ietf:params:acme:error:"), p.Detail)
	}
	return err
}

// Redirect sends a plain HTTP request to the same path over HTTPS on
// port, on the host asked for when it is one of domains (else the
// first; any host when domains is empty).
func Redirect(domains []string, port int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(host)
		if len(domains) > 0 && !slices.Contains(domains, host) {
			host = domains[0]
		}
		if host == "" {
			http.Error(w, "HTTPS only", http.StatusBadRequest)
			return
		}
		if port != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(port))
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}
