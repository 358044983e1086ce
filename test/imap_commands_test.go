package test

import "testing"

// TestDevModeIMAPCommands runs every command of the IMAP issue through
// Python's imaplib against dev mode (testdata/imap_commands.py --strict:
// all advertised extensions required, data checked byte for byte).
func TestDevModeIMAPCommands(t *testing.T) {
	withDev(t, func(s *devServer) {
		a := s.info.Accounts[0]
		t.Log(runScript(t, s, "imap_commands.py", s.info.Host, itoa(s.info.Ports["imap"]), itoa(s.info.Ports["imaps"]),
			s.info.CAFile, a.Address, a.Password, "--strict"))
	})
}
