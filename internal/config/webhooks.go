package config

func (v *validator) webhooks(w Webhooks) {
	const p = "webhooks."
	v.duration(p+"timeout", w.Timeout, false)
	v.duration(p+"give_up", w.GiveUp, false)
	v.positive(p+"concurrency", w.Concurrency, "the default is 16")
	v.duration(p+"event_retention", w.EventRetention, false)
}
