package dkim

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// KeyDir is the directory of signing keys, one PEM file per domain and
// selector:
//
//	DIR/example.org/rsa-20261128.pem       (0600; directories 0700)
//	DIR/example.org/ed25519-20261128.pem
//
// Files, not the database: the private keys stay out of database dumps and
// backups of mail, keep their own permissions, and can be provisioned or
// rotated with ordinary tools. Every key of a domain signs (RSA and
// Ed25519 side by side); rotation is adding a selector, publishing it,
// then removing the old one.
type KeyDir struct {
	Dir string
}

// KeyInfo describes one stored key.
type KeyInfo struct {
	Domain    string
	Selector  string
	Algorithm Algorithm
	// Record is the DNS key record text ("v=DKIM1; k=...; p=...") to
	// publish at RecordName(Selector, Domain).
	Record string
	Path   string
	signer crypto.Signer
}

// ErrKeyExists is returned by Generate for a selector already in use.
var ErrKeyExists = errors.New("dkim: a key with this selector exists")

// DefaultSelector is the selector Generate uses when none is given: the
// algorithm and the date, e.g. "rsa-20261128", so a rotation the next day
// gets a new one.
func DefaultSelector(alg Algorithm, now time.Time) string {
	return string(alg) + "-" + now.UTC().Format("20060102")
}

func (d KeyDir) path(domain, selector string) (string, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if !isDomain(domain) || strings.HasPrefix(domain, ".") {
		return "", fmt.Errorf("dkim: bad domain %q", domain)
	}
	if !isDomain(selector) {
		return "", fmt.Errorf("dkim: bad selector %q", selector)
	}
	return filepath.Join(d.Dir, domain, selector+".pem"), nil
}

// Generate makes a new key of alg for domain under selector, writes it
// durably with mode 0600, and returns its description. It refuses a
// selector that exists (ErrKeyExists).
func (d KeyDir) Generate(domain, selector string, alg Algorithm) (KeyInfo, error) {
	path, err := d.path(domain, selector)
	if err != nil {
		return KeyInfo{}, err
	}
	pemKey, record, err := GenerateKey(alg)
	if err != nil {
		return KeyInfo{}, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return KeyInfo{}, fmt.Errorf("dkim: %v", err)
	}
	// O_EXCL: two keygens for one selector cannot both win.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return KeyInfo{}, fmt.Errorf("%w: %s", ErrKeyExists, path)
	}
	if err != nil {
		return KeyInfo{}, fmt.Errorf("dkim: %v", err)
	}
	_, err = f.Write(pemKey)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		_ = os.Remove(path)
		return KeyInfo{}, fmt.Errorf("dkim: writing %s: %v", path, err)
	}
	return KeyInfo{Domain: filepath.Base(filepath.Dir(path)), Selector: selector, Algorithm: alg, Record: record, Path: path}, nil
}

// Remove deletes the key of domain and selector (fs.ErrNotExist when
// there is none).
func (d KeyDir) Remove(domain, selector string) error {
	path, err := d.path(domain, selector)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	_ = os.Remove(filepath.Dir(path)) // the domain's directory, when empty
	return syncDir(filepath.Dir(path))
}

// List reads every key, sorted by domain and selector. A directory that
// does not exist holds no keys. A file that is not a usable key is an
// error: better to refuse than to sign with fewer keys than the operator
// thinks.
func (d KeyDir) List() ([]KeyInfo, error) {
	domains, err := os.ReadDir(d.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: %v", err)
	}
	var out []KeyInfo
	for _, de := range domains {
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		files, err := os.ReadDir(filepath.Join(d.Dir, de.Name()))
		if err != nil {
			return nil, fmt.Errorf("dkim: %v", err)
		}
		for _, fe := range files {
			sel, ok := strings.CutSuffix(fe.Name(), ".pem")
			if !ok || fe.IsDir() || strings.HasPrefix(fe.Name(), ".") {
				continue
			}
			path := filepath.Join(d.Dir, de.Name(), fe.Name())
			signer, err := LoadKey(path)
			if err != nil {
				return nil, err
			}
			alg, _ := algorithmOf(signer.Public())
			record, err := Record(signer.Public())
			if err != nil {
				return nil, err
			}
			out = append(out, KeyInfo{Domain: de.Name(), Selector: sel, Algorithm: alg, Record: record, Path: path, signer: signer})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Domain != out[j].Domain {
			return out[i].Domain < out[j].Domain
		}
		return out[i].Selector < out[j].Selector
	})
	return out, nil
}

// Keys returns the signing keys of every stored key (for NewSigner).
func (d KeyDir) Keys() ([]Key, error) {
	infos, err := d.List()
	if err != nil {
		return nil, err
	}
	keys := make([]Key, len(infos))
	for i, k := range infos {
		keys[i] = Key{Domain: k.Domain, Selector: k.Selector, Signer: k.signer}
	}
	return keys, nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// DirSigner signs with the keys of a KeyDir and picks up keys added or
// removed while it runs (posthorn dkim keygen/rm against a running
// daemon): at most every CheckInterval it compares the directory listing
// (names, sizes, modification times) with the last one and reloads on a
// change. A reload that fails keeps the previous keys and is reported
// through Sign's error only when there were none to keep.
type DirSigner struct {
	dir      KeyDir
	opts     SignOptions
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex
	checked time.Time
	stamp   string
	signer  *Signer
	loadErr error
}

// NewDirSigner loads the keys of dir. interval <= 0 means 2 seconds.
func NewDirSigner(dir KeyDir, opts SignOptions, interval time.Duration) (*DirSigner, error) {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	s := &DirSigner{dir: dir, opts: opts, interval: interval, now: time.Now}
	if err := s.reload(s.now()); err != nil {
		return nil, err
	}
	return s, nil
}

// stampOf summarises the directory tree so a change shows.
func (d KeyDir) stamp() string {
	var b strings.Builder
	_ = filepath.WalkDir(d.Dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "%s %d %d\n", path, fi.Size(), fi.ModTime().UnixNano())
		}
		return nil
	})
	return b.String()
}

func (s *DirSigner) reload(now time.Time) error {
	stamp := s.dir.stamp()
	s.checked = now
	if s.signer != nil && stamp == s.stamp {
		return nil
	}
	keys, err := s.dir.Keys()
	if err == nil {
		var sg *Signer
		if sg, err = NewSigner(keys, s.opts); err == nil {
			s.signer, s.stamp = sg, stamp
		}
	}
	s.loadErr = err
	return err
}

// Sign implements the signing of Signer.Sign with the current keys.
func (s *DirSigner) Sign(domain string, msg io.Reader) (string, error) {
	s.mu.Lock()
	if now := s.now(); now.Sub(s.checked) >= s.interval {
		_ = s.reload(now)
	}
	sg := s.signer
	s.mu.Unlock()
	if sg == nil {
		return "", fmt.Errorf("%w %s", ErrNoKey, domain)
	}
	return sg.Sign(domain, msg)
}
