package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Algorithm is a DKIM key type (the k= tag of the key record).
type Algorithm string

const (
	// RSA keys are generated with 2048 bits (RFC 8301 §3.2).
	RSA Algorithm = "rsa"
	// Ed25519 keys per RFC 8463.
	Ed25519 Algorithm = "ed25519"
)

// rsaBits is the size of generated RSA keys; minRSABits the smallest
// accepted for signing or verifying (RFC 8301 §3.2).
const (
	rsaBits    = 2048
	minRSABits = 1024
)

// GenerateKey makes a new private key of alg and returns it PEM-encoded
// (PKCS #8, "PRIVATE KEY") with the text of its DNS key record, e.g.
// "v=DKIM1; k=ed25519; p=...". Publish the record with TXTStrings or
// ZoneEntry.
func GenerateKey(alg Algorithm) (pemKey []byte, record string, err error) {
	var key crypto.Signer
	switch alg {
	case RSA:
		key, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case Ed25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, "", fmt.Errorf("dkim: unknown algorithm %q", alg)
	}
	if err != nil {
		return nil, "", fmt.Errorf("dkim: generate %s key: %v", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", fmt.Errorf("dkim: %v", err)
	}
	record, err = Record(key.Public())
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), record, nil
}

// ParsePrivateKey reads an RSA or Ed25519 private key from PEM: PKCS #8
// ("PRIVATE KEY") or PKCS #1 ("RSA PRIVATE KEY"). RSA keys under 1024 bits
// are refused (RFC 8301 §3.2).
func ParsePrivateKey(pemData []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemData)
	if block == nil {
		return nil, errors.New("dkim: no PEM block found")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("dkim: unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: %v", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("dkim: unsupported key type %T", key)
	}
	if err := checkKey(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}

// LoadKey reads a private key from a PEM file (see ParsePrivateKey).
func LoadKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dkim: %v", err)
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%v (%s)", err, path)
	}
	return k, nil
}

// checkKey accepts Ed25519 keys and RSA keys of at least 1024 bits.
func checkKey(pub crypto.PublicKey) error {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if pub.Size()*8 < minRSABits {
			return fmt.Errorf("dkim: RSA key of %d bits, want at least %d (RFC 8301)", pub.Size()*8, minRSABits)
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("dkim: unsupported key type %T", pub)
	}
	return nil
}

// algorithmOf returns the key type of pub.
func algorithmOf(pub crypto.PublicKey) (Algorithm, error) {
	switch pub.(type) {
	case *rsa.PublicKey:
		return RSA, nil
	case ed25519.PublicKey:
		return Ed25519, nil
	}
	return "", fmt.Errorf("dkim: unsupported key type %T", pub)
}

// Record returns the DNS key record text for pub (RFC 6376 §3.6.1):
// "v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo>" or, for Ed25519 (RFC 8463
// §4.2), "v=DKIM1; k=ed25519; p=<the 32-byte key>", both base64.
func Record(pub crypto.PublicKey) (string, error) {
	var p []byte
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("dkim: %v", err)
		}
		p = der
	case ed25519.PublicKey:
		p = pub
	}
	alg, err := algorithmOf(pub)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("v=DKIM1; k=%s; p=%s", alg, base64.StdEncoding.EncodeToString(p)), nil
}

// TXTStrings splits a record into the character-strings of one TXT record,
// each at most 255 bytes (RFC 1035 §3.3.14); verifiers join them again
// (RFC 6376 §3.6.2.2).
func TXTStrings(record string) []string {
	var out []string
	for len(record) > 255 {
		out = append(out, record[:255])
		record = record[255:]
	}
	return append(out, record)
}

// RecordName returns the DNS name of a key record:
// "selector._domainkey.domain" (RFC 6376 §3.6.2.1).
func RecordName(selector, domain string) string {
	return selector + "._domainkey." + strings.TrimSuffix(domain, ".")
}

// ZoneEntry returns the zone-file line that publishes record, e.g.
//
//	s1._domainkey.example.org. 3600 IN TXT "v=DKIM1; k=rsa; p=MIIB..." "...IDAQAB"
func ZoneEntry(selector, domain, record string) string {
	return RecordName(selector, domain) + ". 3600 IN TXT " + QuoteTXT(record)
}

// QuoteTXT writes a TXT record's text as zone-file character-strings
// (TXTStrings, quoted and escaped, RFC 1035 §5.1).
func QuoteTXT(record string) string {
	parts := TXTStrings(record)
	for i, p := range parts {
		p = strings.ReplaceAll(p, `\`, `\\`)
		parts[i] = `"` + strings.ReplaceAll(p, `"`, `\"`) + `"`
	}
	return strings.Join(parts, " ")
}
