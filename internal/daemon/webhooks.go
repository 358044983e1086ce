package daemon

import (
	"context"
	"fmt"

	"github.com/posthorn/posthorn/internal/webhook"
)

// startWebhooks starts the webhook worker ([webhooks]). It runs whether
// or not [delivery] is enabled: dev mode keeps mail in the queue but still
// posts the events of local deliveries and inbound mail.
func (d *Daemon) startWebhooks() {
	c := d.cfg.Webhooks
	d.webhooks = webhook.New(webhook.Options{
		Store:       d.store,
		Timeout:     c.Timeout.D(),
		GiveUp:      c.GiveUp.D(),
		RetryMin:    c.RetryMin.D(),
		RetryMax:    c.RetryMax.D(),
		Concurrency: c.Concurrency,
		Retention:   c.EventRetention.D(),
		Logger:      d.log,
		Metrics:     d.metrics,
	})
	d.webhooks.Start()
	// The SQLite store says when it wrote deliveries: POST them at once.
	if o, ok := d.store.(interface{ OnWebhookDeliveries(func()) }); ok {
		o.OnWebhookDeliveries(d.webhooks.Wake)
	}
}

// stopWebhooks lets POSTs in flight finish until ctx ends.
func (d *Daemon) stopWebhooks(ctx context.Context) error {
	if d.webhooks == nil {
		return nil
	}
	if err := d.webhooks.Shutdown(ctx); err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	return nil
}
