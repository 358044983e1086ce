package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posthorn/posthorn/internal/metrics"
	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/store"
)

// Errors of Login and of the SASL mechanisms. Protocols map them to their
// replies: ErrFailed is SMTP "535 5.7.8" (RFC 4954 §6), IMAP "NO
// [AUTHENTICATIONFAILED]", POP3 "-ERR [AUTH]"; a *ThrottledError or any
// other error is a temporary failure (SMTP "454 4.7.0", IMAP "NO
// [UNAVAILABLE]", POP3 "-ERR [SYS/TEMP]"); ErrMalformed is a syntax error
// (SMTP "501 5.5.2", IMAP "BAD").
var (
	// ErrFailed: wrong name or password. It never says which.
	ErrFailed = errors.New("authentication failed")
	// ErrMalformed: the client's SASL message does not parse.
	ErrMalformed = errors.New("malformed SASL message")
	// ErrUnknownMechanism: NewSASL got a mechanism it does not offer.
	ErrUnknownMechanism = errors.New("unknown SASL mechanism")
	// ErrEncryptionRequired: a mechanism was asked for outside TLS.
	ErrEncryptionRequired = errors.New("authentication requires TLS")
)

// ThrottledError refuses a login from a client IP or for an account that
// failed too often (see ThrottleOptions), whatever the password.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins, try again in %v", e.RetryAfter.Round(time.Second))
}

// ServiceOptions configure a Service. The zero value is usable.
type ServiceOptions struct {
	// Logger receives failed logins and lockouts (name, client IP,
	// protocol, never a secret). Nil discards.
	Logger *slog.Logger
	// Now is the clock of the throttle. Nil means time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends; it delays the answer to a failed
	// login. Nil means a timer. Tests pass one that advances their clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// AllowPlaintext offers the mechanisms outside TLS too. Only for tests
	// and loopback: PLAIN and LOGIN send the password in clear.
	AllowPlaintext bool
	// Throttle slows down and locks out password guessing.
	Throttle ThrottleOptions
	// MaxConcurrentHashes bounds the argon2id checks running at once, each
	// of which takes 19 MiB (default 2 × GOMAXPROCS); more logins wait.
	MaxConcurrentHashes int
	// LoginCacheTTL is how long a successful password check is
	// remembered (see loginCache); 0 turns the cache off.
	LoginCacheTTL time.Duration
	// Metrics counts failed logins by protocol; nil counts nothing.
	Metrics *metrics.Registry
}

// LoginRequest is one name-and-password login.
type LoginRequest struct {
	Username, Password string
	// RemoteIP is the client's address, for throttling and logs.
	RemoteIP net.IP
	// Protocol is "smtp", "imap", "pop3" or "http", for logs.
	Protocol string
}

// Service checks logins for every protocol: passwords and app passwords
// against the store, SASL mechanisms, throttling. It is safe for
// concurrent use; one Service serves all listeners of a process, so the
// throttle sees every protocol's failures.
type Service struct {
	st       store.Store
	opts     ServiceOptions
	log      *slog.Logger
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
	throttle *throttle
	hashes   chan struct{} // semaphore for argon2id checks
	cache    *loginCache   // nil when off

	releasePending atomic.Bool // a releaseHashMemory is scheduled

	// fakeKey makes fake SCRAM salts for unknown names, so that SCRAM does
	// not tell which accounts exist.
	fakeKey []byte

	dummyOnce sync.Once
	dummyHash string // checked for unknown names, so they cost the same time
}

// NewService returns the authentication service over st.
func NewService(st store.Store, opts ServiceOptions) *Service {
	s := &Service{st: st, opts: opts, log: opts.Logger, now: opts.Now, sleep: opts.Sleep}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sleep == nil {
		s.sleep = sleepCtx
	}
	n := opts.MaxConcurrentHashes
	if n <= 0 {
		n = 2 * runtime.GOMAXPROCS(0)
	}
	s.hashes = make(chan struct{}, n)
	s.throttle = newThrottle(opts.Throttle, s.now, s.log)
	s.cache = newLoginCache(opts.LoginCacheTTL)
	s.fakeKey = make([]byte, 32)
	rand.Read(s.fakeKey)
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Login checks a name and password: the account's password or any of its
// app passwords. It returns the account, ErrFailed (after the throttle's
// delay), a *ThrottledError, or a store error.
func (s *Service) Login(ctx context.Context, r LoginRequest) (store.Account, error) {
	user := canonicalUser(r.Username)
	if err := s.throttle.check(ctx, r.RemoteIP, user); err != nil {
		s.log.Warn("auth: login refused, locked out", "protocol", r.Protocol, "client", ipString(r.RemoteIP), "user", user)
		s.opts.Metrics.AuthFailure(r.Protocol, "locked_out")
		return store.Account{}, err
	}
	acct, how, err := s.verify(ctx, user, r.Password)
	if err == nil {
		s.succeeded(ctx, r.Protocol, r.RemoteIP, user, how)
		return acct, nil
	}
	if !errors.Is(err, ErrFailed) {
		s.log.Error("auth: checking a login", "protocol", r.Protocol, "client", ipString(r.RemoteIP), "user", user, "err", err)
		return store.Account{}, err
	}
	return store.Account{}, s.failed(ctx, r.Protocol, r.RemoteIP, user, how)
}

// succeeded records and logs a good login.
func (s *Service) succeeded(ctx context.Context, protocol string, ip net.IP, user, how string) {
	s.throttle.success(ctx, user)
	s.log.Debug("auth: login", "protocol", protocol, "client", ipString(ip), "user", user, "with", how)
}

// failed records and logs a failed login, waits the throttle's delay and
// returns ErrFailed (or the context's error).
func (s *Service) failed(ctx context.Context, protocol string, ip net.IP, user, reason string) error {
	delay, locked := s.throttle.fail(ctx, ip, user)
	s.opts.Metrics.AuthFailure(protocol, "credentials")
	s.log.Warn("auth: login failed", "protocol", protocol, "client", ipString(ip), "user", user, "reason", reason, "delay", delay)
	if locked {
		s.log.Warn("auth: too many failed logins, locking out", "client", ipString(ip), "user", user,
			"for", s.throttle.opts.Window)
	}
	if err := s.sleep(ctx, delay); err != nil {
		return err
	}
	return ErrFailed
}

// verify checks password for user. how says what matched ("password",
// "app password NAME"), or why nothing did.
func (s *Service) verify(ctx context.Context, user, password string) (acct store.Account, how string, err error) {
	if user == "" || password == "" {
		return store.Account{}, "empty name or password", ErrFailed
	}
	acct, cred, err := s.st.Credentials(ctx, user)
	if errors.Is(err, store.ErrNotFound) {
		// Spend the time a real check takes, so timing tells nothing.
		if err := s.hash(ctx, nil, func() error { return VerifyPassword(s.dummy(), password) }); err != nil && !errors.Is(err, ErrMismatch) {
			return store.Account{}, "", err
		}
		return store.Account{}, "unknown user", ErrFailed
	}
	if err != nil {
		return store.Account{}, "", err
	}
	var apps []store.AppPassword
	if appPasswordShaped(password) {
		if apps, err = s.st.AppPasswords(ctx, user); err != nil {
			return store.Account{}, "", err
		}
	}
	stillStored := func(hash string) bool {
		if hash == cred.PasswordHash {
			return true
		}
		return slices.ContainsFunc(apps, func(p store.AppPassword) bool { return p.Credentials.PasswordHash == hash })
	}
	if how, ok := s.cache.lookup(user, password, s.now(), stillStored); ok {
		return acct, how + " (cached)", nil
	}
	// learnt reports, once a hash slot is ours, whether a concurrent login
	// with the same password has filled the cache meanwhile: a client
	// opening many connections at once then costs one argon2id run.
	var cachedHow string
	learnt := func() bool {
		how, ok := s.cache.lookup(user, password, s.now(), stillStored)
		cachedHow = how + " (cached)"
		return ok
	}
	// A good password goes into the cache while the hash slot is still
	// held (inside the hash's func), so the login waiting for the slot
	// finds it there (learnt) instead of hashing again.
	for _, p := range apps {
		how := "app password " + p.Name
		err := s.hash(ctx, learnt, func() error {
			return s.verifyAndCache(user, password, p.Credentials.PasswordHash, how)
		})
		switch {
		case err == nil:
			return acct, how, nil
		case errors.Is(err, errLearnt):
			return acct, cachedHow, nil
		case !errors.Is(err, ErrMismatch):
			return store.Account{}, "", fmt.Errorf("app password %q of %s: %w", p.Name, user, err)
		}
	}
	if cred.PasswordHash == "" {
		return store.Account{}, "no password set", ErrFailed
	}
	err = s.hash(ctx, learnt, func() error { return s.verifyAndCache(user, password, cred.PasswordHash, "password") })
	switch {
	case err == nil:
		return acct, "password", nil
	case errors.Is(err, errLearnt):
		return acct, cachedHow, nil
	case errors.Is(err, ErrMismatch):
		return store.Account{}, "wrong password", ErrFailed
	}
	return store.Account{}, "", fmt.Errorf("password of %s: %w", user, err)
}

// errLearnt: hash found the login in the cache once it had a slot.
var errLearnt = errors.New("login learnt meanwhile")

// hash runs an argon2id check within the concurrency bound. If learnt
// (may be nil) reports true once the slot is ours, it returns errLearnt
// without hashing.
// verifyAndCache checks password against hash and, when it matches,
// remembers it in the login cache as how.
func (s *Service) verifyAndCache(user, password, hash, how string) error {
	if err := VerifyPassword(hash, password); err != nil {
		return err
	}
	s.cache.add(user, password, hash, how, s.now())
	return nil
}

func (s *Service) hash(ctx context.Context, learnt func() bool, f func() error) error {
	select {
	case s.hashes <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() {
		<-s.hashes
		if len(s.hashes) == 0 {
			s.releaseHashMemory()
		}
	}()
	if learnt != nil && s.cache != nil && learnt() {
		return errLearnt
	}
	return f()
}

// hashMemoryDelay is how long hashing must have paused before its memory
// goes back to the operating system.
const hashMemoryDelay = time.Second

// releaseHashMemory returns the heap's free memory to the operating system
// once no argon2id check has run for hashMemoryDelay. Each check takes 19
// MiB for a few milliseconds; without this a burst of logins leaves the
// process tens of MiB larger for minutes (Go's scavenger is gradual),
// which swamps the ~20 KiB an idle IMAP connection costs. At most one
// release (a forced GC) per hashMemoryDelay.
func (s *Service) releaseHashMemory() {
	if !s.releasePending.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(hashMemoryDelay, func() {
		s.releasePending.Store(false)
		if len(s.hashes) == 0 {
			debug.FreeOSMemory()
		}
	})
}

func (s *Service) dummy() string {
	s.dummyOnce.Do(func() {
		h, err := HashPassword(GeneratePassword())
		if err != nil {
			panic(err) // only crypto/rand can fail, and it does not
		}
		s.dummyHash = h
	})
	return s.dummyHash
}

// canonicalUser maps a login name to the store's key: an address in
// canonical form (lower case), or "" when it is not an address.
func canonicalUser(name string) string {
	a, err := smtp.ParseAddress(strings.TrimSpace(name))
	if err != nil {
		return ""
	}
	return a.Canonical()
}

// appPasswordShaped reports whether pw could be a generated app password
// (GeneratePassword's length and alphabet); only then are the app
// passwords checked, so a wrong account password costs one argon2id run.
func appPasswordShaped(pw string) bool {
	if len(pw) != generatedLen {
		return false
	}
	for i := 0; i < len(pw); i++ {
		if !strings.ContainsRune(passwordAlphabet, rune(pw[i])) {
			return false
		}
	}
	return true
}

func ipString(ip net.IP) string {
	if ip == nil {
		return ""
	}
	return ip.String()
}
