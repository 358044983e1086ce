package tlspolicy

import "testing"

func TestStartFetch(t *testing.T) {
	c, err := newSTSCache("")
	if err != nil {
		t.Fatal(err)
	}
	done, wait := c.startFetch("example.org")
	if done == nil || wait != nil {
		t.Fatal("first caller is not the fetcher")
	}
	done2, wait2 := c.startFetch("example.org")
	if done2 != nil || wait2 == nil {
		t.Fatal("second caller fetches too")
	}
	if d, _ := c.startFetch("other.example"); d == nil {
		t.Fatal("another domain waits")
	} else {
		d()
	}
	select {
	case <-wait2:
		t.Fatal("wait channel closed before the fetch ended")
	default:
	}
	done()
	<-wait2
	if d, _ := c.startFetch("example.org"); d == nil {
		t.Fatal("no new fetch after the first ended")
	}
}
