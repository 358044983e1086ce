package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

func TestCredentialsVerify(t *testing.T) {
	c, err := NewCredentials("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not argon2id with the documented parameters", c.PasswordHash)
	}
	if strings.Contains(c.PasswordHash, "correct horse") {
		t.Fatal("password stored in clear")
	}
	if err := VerifyPassword(c.PasswordHash, "correct horse"); err != nil {
		t.Errorf("right password refused: %v", err)
	}
	if err := VerifyPassword(c.PasswordHash, "correct horsE"); !errors.Is(err, ErrMismatch) {
		t.Errorf("wrong password: %v, want ErrMismatch", err)
	}
	c2, _ := NewCredentials("correct horse")
	if c2.PasswordHash == c.PasswordHash || bytes.Equal(c2.SCRAM.Salt, c.SCRAM.Salt) {
		t.Error("salts repeat between two hashes of one password")
	}
	if _, err := NewCredentials(""); err == nil {
		t.Error("empty password accepted")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=x$c2FsdA$a2V5"} {
		if err := VerifyPassword(bad, "x"); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

// TestSCRAMKeysRFC7677 checks the SCRAM-SHA-256 derivation with the example
// of RFC 7677 §3: the ClientProof in the example must verify against the
// StoredKey derived here.
func TestSCRAMKeysRFC7677(t *testing.T) {
	salt := mustB64(t, "W22ZaJ0SNY7soEsUEjb6gQ==")
	k, err := SCRAMKeys("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	authMessage := "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	proof := mustB64(t, "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	m := hmac.New(sha256.New, k.StoredKey)
	m.Write([]byte(authMessage))
	sig := m.Sum(nil)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	sum := sha256.Sum256(clientKey)
	if !bytes.Equal(sum[:], k.StoredKey) {
		t.Fatal("RFC 7677 client proof does not verify against the derived StoredKey")
	}
	sm := hmac.New(sha256.New, k.ServerKey)
	sm.Write([]byte(authMessage))
	if got := b64std(sm.Sum(nil)); got != "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Fatalf("server signature %s does not match RFC 7677", got)
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		p := GeneratePassword()
		if len(p) != 20 || strings.ContainsAny(p, "0O1lI") || seen[p] {
			t.Fatalf("bad or repeated password %q", p)
		}
		seen[p] = true
	}
}
