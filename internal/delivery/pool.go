package delivery

import (
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/smtpclient"
)

// destination holds one destination's concurrency slots and idle
// connections.
type destination struct {
	sem chan struct{}

	mu   sync.Mutex
	idle []*pooled
}

// pooled is a connection with the host it goes to.
type pooled struct {
	conn  *smtpclient.Conn
	host  string
	since time.Time // when it went idle
}

func (d *Deliverer) destination(key string) *destination {
	d.mu.Lock()
	defer d.mu.Unlock()
	dest := d.dests[key]
	if dest == nil {
		dest = &destination{sem: make(chan struct{}, d.opts.MaxPerDestination)}
		d.dests[key] = dest
	}
	return dest
}

// takeIdle returns the most recently used idle connection, or nil.
func (dest *destination) takeIdle() *pooled {
	dest.mu.Lock()
	defer dest.mu.Unlock()
	if len(dest.idle) == 0 {
		return nil
	}
	c := dest.idle[len(dest.idle)-1]
	dest.idle = dest.idle[:len(dest.idle)-1]
	return c
}

// release keeps a connection for the next message, or closes it when it
// has carried enough or the Deliverer is closing.
func (d *Deliverer) release(dest *destination, c *pooled) {
	select {
	case <-d.quit:
		c.conn.Close()
		return
	default:
	}
	if c.conn.Used >= d.opts.MaxReuse {
		go c.conn.Close()
		return
	}
	c.since = time.Now()
	dest.mu.Lock()
	dest.idle = append(dest.idle, c)
	dest.mu.Unlock()
}

// closeIdle closes connections idle since before cutoff (all when zero).
func (dest *destination) closeIdle(cutoff time.Time) {
	dest.mu.Lock()
	var keep, old []*pooled
	for _, c := range dest.idle {
		if cutoff.IsZero() || c.since.Before(cutoff) {
			old = append(old, c)
		} else {
			keep = append(keep, c)
		}
	}
	dest.idle = keep
	dest.mu.Unlock()
	for _, c := range old {
		c.conn.Close()
	}
}

// reaper closes connections idle longer than IdleTimeout.
func (d *Deliverer) reaper() {
	defer close(d.done)
	t := time.NewTicker(max(d.opts.IdleTimeout/4, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-d.quit:
			return
		case now := <-t.C:
			d.mu.Lock()
			dests := make([]*destination, 0, len(d.dests))
			for _, dest := range d.dests {
				dests = append(dests, dest)
			}
			d.mu.Unlock()
			for _, dest := range dests {
				dest.closeIdle(now.Add(-d.opts.IdleTimeout))
			}
		}
	}
}
