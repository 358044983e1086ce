package tlspolicy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"time"
)

// maxPolicySize bounds a policy file (RFC 8461 §3.3: senders may limit
// the body to 64 KiB).
const maxPolicySize = 64 << 10

// fetchPolicy gets https://mta-sts.DOMAIN/.well-known/mta-sts.txt (RFC
// 8461 §3.3): the host name resolved through our Resolver, the
// certificate checked against RootCAs for that name, no redirects, no
// HTTP cache, status 200 with text/plain only, at most 64 KiB.
func (p *Policy) fetchPolicy(ctx context.Context, domain string) (string, error) {
	host := "mta-sts." + domain
	ctx, cancel := context.WithTimeout(ctx, p.opts.FetchTimeout)
	defer cancel()
	tr := &http.Transport{
		DialContext:            p.dialResolved,
		TLSClientConfig:        &tls.Config{RootCAs: p.opts.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    p.opts.FetchTimeout,
		DisableKeepAlives:      true,
		ForceAttemptHTTP2:      false,
		MaxResponseHeaderBytes: 16 << 10,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		// RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed".
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/.well-known/mta-sts.txt", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("mta-sts: %s: HTTP status %d", host, resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return "", fmt.Errorf("mta-sts: %s: content type %q, want text/plain", host, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPolicySize+1))
	if err != nil {
		return "", fmt.Errorf("mta-sts: %s: %v", host, err)
	}
	if len(body) > maxPolicySize {
		return "", fmt.Errorf("mta-sts: %s: policy larger than %d bytes", host, maxPolicySize)
	}
	return string(body), nil
}

// dialResolved resolves the host of addr through the Resolver and dials
// its addresses in turn with Options.Dial.
func (p *Policy) dialResolved(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, _, err := p.opts.Resolver.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	dial := p.opts.Dial
	if dial == nil {
		d := &net.Dialer{Timeout: 30 * time.Second}
		dial = d.DialContext
	}
	var errs []error
	for _, ip := range ips {
		c, err := dial(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}
