package dkim_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/dns"
)

// The operator's view: make a key per algorithm and print the records.
func ExampleGenerateKey() {
	for _, alg := range []dkim.Algorithm{dkim.RSA, dkim.Ed25519} {
		pemKey, record, err := dkim.GenerateKey(alg)
		if err != nil {
			log.Fatal(err)
		}
		_ = pemKey // store it, mode 0600
		line := dkim.ZoneEntry("2026a-"+string(alg), "example.org", record)
		fmt.Println(line[:strings.Index(line, " IN TXT")], "IN TXT", len(dkim.TXTStrings(record)), "string(s)")
	}
	// Output:
	// 2026a-rsa._domainkey.example.org. 3600 IN TXT 2 string(s)
	// 2026a-ed25519._domainkey.example.org. 3600 IN TXT 1 string(s)
}

// Submission signs, the receiving side verifies.
func ExampleSigner() {
	keyPEM, _, err := dkim.GenerateKey(dkim.Ed25519)
	if err != nil {
		log.Fatal(err)
	}
	key, err := dkim.ParsePrivateKey(keyPEM)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := dkim.NewSigner([]dkim.Key{{Domain: "example.org", Selector: "2026a", Signer: key}}, dkim.SignOptions{})
	if err != nil {
		log.Fatal(err)
	}
	msg := "From: alice@example.org\r\nSubject: hi\r\n\r\nhello\r\n"
	fields, err := signer.Sign("example.org", strings.NewReader(msg))
	if err != nil {
		log.Fatal(err)
	}
	signed := fields + msg

	resolver, err := dns.New(dns.Config{Servers: []string{"127.0.0.1:53"}})
	if err != nil {
		log.Fatal(err)
	}
	results, err := dkim.Verify(context.Background(), resolver, strings.NewReader(signed))
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range results {
		fmt.Println(r.Status, r.Err)
	}
}
