package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/xdg-go/stringprep"
	"golang.org/x/crypto/argon2"

	"github.com/posthorn/posthorn/internal/store"
)

// Argon2id parameters: OWASP's recommendation (19 MiB, 2 passes, 1 lane)
// rather than RFC 9106's 64 MiB option, because a mail server checks
// passwords often (every IMAP/POP3/SMTP login) and many logins at once
// must not cost 64 MiB each. The parameters are stored in every hash, so
// they can be raised later without breaking existing hashes.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16

	// SCRAMIterations is the PBKDF2 iteration count for SCRAM-SHA-256
	// (RFC 7677 asks for at least 4096).
	SCRAMIterations = 4096
)

// ErrMismatch means the password is wrong.
var ErrMismatch = errors.New("password does not match")

// NewCredentials derives everything the store keeps for a password: an
// argon2id hash and the SCRAM-SHA-256 keys. The password itself is never
// stored.
func NewCredentials(password string) (store.Credentials, error) {
	hash, err := HashPassword(password)
	if err != nil {
		return store.Credentials{}, err
	}
	scramSalt := make([]byte, saltLen)
	if _, err := rand.Read(scramSalt); err != nil {
		return store.Credentials{}, err
	}
	keys, err := SCRAMKeys(password, scramSalt, SCRAMIterations)
	if err != nil {
		return store.Credentials{}, err
	}
	return store.Credentials{PasswordHash: hash, SCRAM: keys}, nil
}

// HashPassword returns the argon2id hash of password in PHC string form,
// with a fresh salt. App passwords store only this.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("empty password")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64(salt), b64(key)), nil
}

// SCRAMKeys computes RFC 5802 StoredKey and ServerKey for SHA-256. The
// password is first normalised with SASLprep (RFC 4013), as RFC 5802 §2.2
// asks and as SCRAM clients do; a password SASLprep refuses is used as it
// is.
func SCRAMKeys(password string, salt []byte, iterations int) (store.SCRAMKeys, error) {
	if p, err := stringprep.SASLprep.Prepare(password); err == nil {
		password = p
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return store.SCRAMKeys{}, err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	return store.SCRAMKeys{Salt: salt, Iterations: iterations, StoredKey: storedKey[:], ServerKey: serverKey}, nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// VerifyPassword checks a password against an argon2id PHC string in
// constant time.
func VerifyPassword(hash, password string) error {
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("unsupported password hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("unsupported argon2 version")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return errors.New("bad argon2 parameters")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return errors.New("bad argon2 salt")
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return errors.New("bad argon2 key")
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// GeneratePassword returns a random password of 20 characters from an
// alphabet without look-alikes (about 116 bits), drawn without modulo bias.
func GeneratePassword() string {
	const alphabet = passwordAlphabet
	const limit = 256 - 256%len(alphabet) // reject bytes >= limit
	out := make([]byte, 0, generatedLen)
	buf := make([]byte, 32)
	for len(out) < generatedLen {
		if _, err := rand.Read(buf); err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		for _, c := range buf {
			if int(c) < limit && len(out) < generatedLen {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// The shape of generated passwords.
const (
	passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	generatedLen     = 20
)

func b64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }
