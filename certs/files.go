// Package certs gives the web front end its TLS certificate: from two PEM
// files read again when they change, or from an ACME CA (Let's Encrypt by
// default), obtained and renewed by itself. It knows nothing of SSH or
// rooms: it hands out certificates and says how they are doing.
package certs

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultCheck is how often, at most, a handshake looks at the files for
// a change.
const DefaultCheck = time.Minute

// Files serves a certificate and key read from two PEM files. A handshake
// reads them again when at least Check has passed since the last look
// (Reload does it at once, e.g. on SIGHUP); a pair that changed and loads
// is served from then on, and one that does not load is logged and
// ignored: the pair already serving stays.
type Files struct {
	certPath, keyPath string
	check             time.Duration
	log               *slog.Logger

	mu      sync.Mutex
	cur     *tls.Certificate
	certPEM []byte // what cur was loaded from
	keyPEM  []byte
	refused [32]byte // the last pair refused, logged once
	looked  time.Time
	lastErr error // why the last changed pair was refused; nil once one loads
}

// LoadFiles reads the pair for the first time: here a broken pair is an
// error, since nothing is serving yet. check ≤ 0 means DefaultCheck.
func LoadFiles(certPath, keyPath string, check time.Duration, log *slog.Logger) (*Files, error) {
	if check <= 0 {
		check = DefaultCheck
	}
	if log == nil {
		log = slog.Default()
	}
	f := &Files{certPath: certPath, keyPath: keyPath, check: check, log: log}
	certPEM, keyPEM, err := f.read()
	if err == nil {
		f.cur, err = parsePair(certPEM, keyPEM)
	}
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	if err := current(f.cur.Leaf); err != nil {
		// Served all the same, as before: a reload may bring a good one.
		log.Warn("TLS certificate is not valid now", "cert", certPath, "err", err)
	}
	f.certPEM, f.keyPEM, f.looked = certPEM, keyPEM, time.Now()
	return f, nil
}

// GetCertificate is for tls.Config: the current pair, read again first if
// it is time to look.
func (f *Files) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Since(f.looked) >= f.check {
		f.reload()
	}
	return f.cur, nil
}

// Reload reads the files now. It returns whether a new pair is serving,
// and why a changed pair was refused.
func (f *Files) Reload() (changed bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reload()
}

func (f *Files) reload() (bool, error) {
	f.looked = time.Now()
	certPEM, keyPEM, err := f.read()
	if err == nil && bytes.Equal(certPEM, f.certPEM) && bytes.Equal(keyPEM, f.keyPEM) {
		return false, nil
	}
	var pair *tls.Certificate
	if err == nil {
		pair, err = parsePair(certPEM, keyPEM)
	}
	if err == nil {
		// Swapping a good certificate for one browsers refuse helps nobody.
		err = current(pair.Leaf)
	}
	if err != nil {
		sum := sha256.Sum256(append(append([]byte(err.Error()), certPEM...), keyPEM...))
		if sum != f.refused {
			// Once per broken pair, not once a minute.
			f.refused = sum
			f.log.Warn("TLS certificate files changed but do not load; still serving the previous certificate",
				"cert", f.certPath, "key", f.keyPath, "err", err, "serving_expires", f.cur.Leaf.NotAfter)
		}
		f.lastErr = err
		return false, err
	}
	f.cur, f.certPEM, f.keyPEM, f.lastErr = pair, certPEM, keyPEM, nil
	f.log.Info("TLS certificate reloaded", "cert", f.certPath, "names", pair.Leaf.DNSNames, "expires", pair.Leaf.NotAfter)
	return true, nil
}

func (f *Files) read() (certPEM, keyPEM []byte, err error) {
	if certPEM, err = os.ReadFile(f.certPath); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = os.ReadFile(f.keyPath); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// parsePair loads a pair, its leaf parsed.
func parsePair(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, err
		}
		pair.Leaf = leaf
	}
	return &pair, nil
}

// current says why leaf is not valid now, if it is not.
func current(leaf *x509.Certificate) error {
	switch now := time.Now(); {
	case now.After(leaf.NotAfter):
		return fmt.Errorf("certificate expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("certificate not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// Expiry is when the certificate serving now expires.
func (f *Files) Expiry() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur.Leaf.NotAfter
}

// LastError is why the files' latest change was refused, nil if it loaded.
func (f *Files) LastError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr
}
