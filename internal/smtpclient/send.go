package smtpclient

import (
	"context"
	"strconv"

	"github.com/posthorn/posthorn/internal/smtp"
)

// Envelope is one transaction's sender and recipients.
type Envelope struct {
	// From is the reverse-path, "" for the null sender.
	From string
	To   []string
	// UTF8: the message or its addresses need SMTPUTF8 (RFC 6531).
	UTF8 bool
	// RequireTLS passes the REQUIRETLS parameter on (RFC 8689 §4.2.1);
	// the caller checks that the connection may carry it.
	RequireTLS bool
}

// Replies made up here rather than received.
var (
	// RFC 6531 §3.2: a message that needs SMTPUTF8 must not be sent to a
	// server without it; RFC 6531 §3.4 gives 5.6.7.
	ReplyNoSMTPUTF8 = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 6, 7},
		Text: "Destination mail server does not support SMTPUTF8, which this message needs"}
	// RFC 6152 §3: 8-bit data goes only to a server that offers
	// 8BITMIME; the other choice, a downgrade to 7 bit, would break the
	// message's DKIM signatures. RFC 3463 §3.7 gives 5.6.3.
	ReplyNo8BITMIME = &smtp.Reply{Code: 554, Enhanced: smtp.EnhancedCode{5, 6, 3},
		Text: "Destination mail server does not support 8BITMIME, which this message needs"}
	// RFC 1870 §6.3: over the limit the server declared, do not send.
	ReplyTooBig = &smtp.Reply{Code: 552, Enhanced: smtp.EnhancedCode{5, 3, 4},
		Text: "Message is larger than the destination mail server accepts"}
)

// Send runs one mail transaction and returns one reply per recipient, in
// the order of env.To: the final reply to the data for accepted
// recipients, or the reply that refused them (MAIL, RCPT or DATA). With
// PIPELINING, MAIL, the RCPTs and DATA go out in one write (RFC 2920
// §3.1). A non-nil error means the connection is unusable; with nil
// replies the outcome is unknown for every recipient (the message may or
// may not have been taken, so the caller retries: at-least-once), with
// replies they stand and only the connection is lost.
func (c *Conn) Send(ctx context.Context, env Envelope, body []byte) ([]*smtp.Reply, error) {
	replies := make([]*smtp.Reply, len(env.To))
	fill := func(r *smtp.Reply) {
		for i := range replies {
			if replies[i] == nil {
				replies[i] = r
			}
		}
	}
	if _, ok := c.ext["SMTPUTF8"]; env.UTF8 && !ok {
		fill(ReplyNoSMTPUTF8)
		return replies, nil
	}
	if max := c.maxSize(); max > 0 && int64(len(body)) > max {
		fill(ReplyTooBig)
		return replies, nil
	}
	_, has8BitMIME := c.ext["8BITMIME"]
	eightBit := is8Bit(body)
	if eightBit && !has8BitMIME {
		fill(ReplyNo8BITMIME)
		return replies, nil
	}
	c.Used++
	mail := "MAIL FROM:<" + env.From + ">"
	if eightBit {
		mail += " BODY=8BITMIME"
	}
	if _, ok := c.ext["SIZE"]; ok {
		mail += " SIZE=" + strconv.Itoa(len(body))
	}
	if env.UTF8 {
		mail += " SMTPUTF8"
	}
	if env.RequireTLS {
		mail += " REQUIRETLS"
	}
	if _, ok := c.ext["PIPELINING"]; ok {
		return c.sendPipelined(ctx, mail, env, body, replies)
	}

	rep, err := c.cmd(ctx, "mail", mail)
	if err != nil {
		return nil, err
	}
	if rep.Code/100 != 2 {
		fill(rep)
		return replies, c.reset(ctx)
	}
	accepted := 0
	for i, to := range env.To {
		rep, err := c.cmd(ctx, "rcpt", "RCPT TO:<"+to+">")
		if err != nil {
			return nil, err
		}
		if rep.Code/100 != 2 {
			replies[i] = rep
		} else {
			accepted++
		}
	}
	if accepted == 0 {
		return replies, c.reset(ctx)
	}
	rep, err = c.cmd(ctx, "data", "DATA")
	if err != nil {
		return nil, err
	}
	if rep.Code != 354 {
		fill(rep)
		return replies, c.reset(ctx)
	}
	return c.finishData(ctx, body, replies)
}

func (c *Conn) sendPipelined(ctx context.Context, mail string, env Envelope, body []byte, replies []*smtp.Reply) ([]*smtp.Reply, error) {
	c.w.WriteString(mail + "\r\n")
	for _, to := range env.To {
		c.w.WriteString("RCPT TO:<" + to + ">\r\n")
	}
	c.w.WriteString("DATA\r\n")
	if err := c.flush(ctx, "mail"); err != nil {
		return nil, err
	}
	mailRep, err := c.read(ctx, "mail", c.opts.CommandTimeout)
	if err != nil {
		return nil, err
	}
	accepted := 0
	for i := range env.To {
		rep, err := c.read(ctx, "rcpt", c.opts.CommandTimeout)
		if err != nil {
			return nil, err
		}
		switch {
		case mailRep.Code/100 != 2:
			replies[i] = mailRep
		case rep.Code/100 != 2:
			replies[i] = rep
		default:
			accepted++
		}
	}
	dataRep, err := c.read(ctx, "data", c.opts.CommandTimeout)
	if err != nil {
		return nil, err
	}
	if dataRep.Code != 354 {
		for i := range replies {
			if replies[i] == nil {
				replies[i] = dataRep
			}
		}
		return replies, c.reset(ctx)
	}
	if accepted == 0 {
		// The server took DATA though no recipient was accepted (RFC
		// 2920 §3.1 asks it not to): send an empty message to end it.
		_, err := c.finishData(ctx, nil, replies)
		return replies, err
	}
	return c.finishData(ctx, body, replies)
}

// finishData sends the message data and gives its reply to every
// recipient without one.
func (c *Conn) finishData(ctx context.Context, body []byte, replies []*smtp.Reply) ([]*smtp.Reply, error) {
	stop := c.deadline(ctx, c.opts.DataTimeout)
	err := writeData(c.w, body)
	if err == nil {
		err = c.w.Flush()
	}
	stop()
	if err != nil {
		return nil, &Error{Stage: "data", Err: err}
	}
	rep, err := c.read(ctx, "data", c.opts.DataTimeout)
	if err != nil {
		return nil, err
	}
	for i := range replies {
		if replies[i] == nil {
			replies[i] = rep
		}
	}
	return replies, nil
}

// reset ends a failed transaction so the connection can carry the next.
func (c *Conn) reset(ctx context.Context) error {
	rep, err := c.cmd(ctx, "rset", "RSET")
	if err != nil {
		return err
	}
	if rep.Code/100 != 2 {
		return &Error{Stage: "rset", Reply: rep}
	}
	return nil
}
