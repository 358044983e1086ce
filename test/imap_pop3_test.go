package test

import "testing"

// TestDevModeIMAPAndPOP3SameMailbox: a POP3 session is open while imaplib
// expunges one of its messages. POP3 keeps listing it until QUIT, RETR of
// it answers -ERR, the others come back whole; a message delivered
// meanwhile is seen by IMAP but not by the open POP3 session; after QUIT
// both the POP3 deletion and the IMAP expunge hold
// (testdata/imap_pop3_same_box.py, issue 7).
func TestDevModeIMAPAndPOP3SameMailbox(t *testing.T) {
	withDev(t, func(s *devServer) {
		a := s.info.Accounts[0]
		runScript(t, s, "imap_pop3_same_box.py", s.info.Host, itoa(s.info.Ports["imaps"]), itoa(s.info.Ports["pop3"]),
			itoa(s.info.Ports["smtp"]), s.info.CAFile, a.Address, a.Password)
	})
}

func TestRefstackIMAPAndPOP3SameMailbox(t *testing.T) {
	refstackOrSkip(t)
	runScript(t, nil, "imap_pop3_same_box.py", refHost, "2993", "2110", "2525", refCA, refUser, refPass, "--src", refClient)
}
