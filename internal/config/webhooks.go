package config

import "fmt"

func (v *validator) webhooks(w Webhooks) {
	const p = "webhooks."
	v.duration(p+"timeout", w.Timeout, false)
	v.duration(p+"give_up", w.GiveUp, false)
	v.duration(p+"retry_min", w.RetryMin, false)
	v.duration(p+"retry_max", w.RetryMax, false)
	if w.RetryMax.D() < w.RetryMin.D() {
		v.add(p+"retry_max", fmt.Sprintf("%s: shorter than retry_min (%s)", w.RetryMax, w.RetryMin), "raise it or lower retry_min")
	}
	v.positive(p+"concurrency", w.Concurrency, "the default is 16")
	v.duration(p+"event_retention", w.EventRetention, false)
}
