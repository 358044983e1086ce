package dns_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/posthorn/posthorn/internal/dns"
)

// Delivery asks where mail for a domain goes.
func ExampleMailHosts() {
	servers, err := dns.SystemServers("/etc/resolv.conf")
	if err != nil {
		log.Fatal(err)
	}
	// TrustAD only for a validating resolver on loopback (e.g. unbound).
	resolver, err := dns.New(dns.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	hosts, err := dns.MailHosts(context.Background(), resolver, "example.org")
	switch {
	case errors.Is(err, dns.ErrNullMX):
		fmt.Println("bounce: 556 5.1.10 domain accepts no mail")
	case dns.IsTemporary(err):
		fmt.Println("try later:", err)
	case err != nil:
		fmt.Println("bounce:", err)
	}
	for _, h := range hosts {
		fmt.Println(h.Name, h.Pref, h.Implicit, h.Authentic)
	}
}
