package app

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/pires/go-proxyproto"
)

// proxyListener wraps ln to read PROXY protocol (v1 or v2) headers when
// --proxy-protocol is on. A connection from a trusted proxy must carry a
// header (its address is then the client's, which is what every per-IP rule
// sees); a connection from anywhere else must not (it is closed if it
// does, before the SSH banner). Headers are read on the connection's own
// goroutine, never in Accept.
// On error ln is closed.
func proxyListener(ln net.Listener, cfg Config) (_ net.Listener, err error) {
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	if !cfg.ProxyProtocol {
		if cfg.TrustedProxies != "" {
			return nil, errors.New("--trusted-proxies is set but --proxy-protocol is off")
		}
		return ln, nil
	}
	trusted, err := parsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	if len(trusted) == 0 {
		return nil, errors.New("--proxy-protocol needs --trusted-proxies (the load balancer's addresses, e.g. 10.0.0.0/8)")
	}
	return &proxyproto.Listener{
		Listener: ln,
		// The header must come as promptly as the handshake (default 10s).
		ReadHeaderTimeout: cfg.HandshakeTimeout,
		ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			// Never return an error here: any but ErrInvalidUpstream stops Accept.
			ap, err := netip.ParseAddrPort(o.Upstream.String())
			if err != nil {
				return proxyproto.REJECT, nil
			}
			ip := ap.Addr().Unmap()
			for _, p := range trusted {
				if p.Contains(ip) {
					return proxyproto.REQUIRE, nil
				}
			}
			return proxyproto.REJECT, nil
		},
	}, nil
}

// parsePrefixes reads comma-separated CIDRs or single addresses.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
