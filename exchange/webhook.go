package exchange

import (
	"net/url"
	"time"
)

// Webhook states.
const (
	WebhookActive  = "active"
	WebhookStopped = "stopped" // a pull was refused (case closed, requirement revoked): nothing more is sent
)

// Webhook is a consumer's registered HTTPS endpoint that the hub pushes the deliveries of a
// subscription to (the same deliveries as SubscriptionService.Subscribe). Cursor is the
// last change acknowledged by the endpoint or dead-lettered: delivery resumes after it.
type Webhook struct {
	ID            string
	Department    string
	Operator      string
	RequirementID string
	MatterCode    string
	CaseNumber    string
	URL           string
	TLSCAPEM      string
	Cursor        int64
	State         string
	LastError     string
	Delivered     int64
	DeadLettered  int64
	CreatedAt     time.Time
	// FreshnessAlerts: the webhook pushes its (provider) department's freshness alerts, not
	// a subscription's changes; Cursor is then the time (µs) of the last alert acknowledged.
	FreshnessAlerts bool
}

// DeadLetter is a delivery a webhook's endpoint did not acknowledge within the attempt
// limit: kept for the consumer (and the operator alerted), then skipped.
type DeadLetter struct {
	WebhookID      string
	Cursor         int64
	IdempotencyKey string
	Attempts       int
	LastError      string
	At             time.Time
}

// ValidateWebhookURL checks an endpoint: an absolute https URL with a host, at most 2048
// bytes, without credentials.
func ValidateWebhookURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case len(s) > 2048:
		return Errorf(KindInvalid, "WEBHOOK_URL_INVALID", "the webhook URL is longer than 2048 bytes")
	case err != nil || u.Host == "":
		return Errorf(KindInvalid, "WEBHOOK_URL_INVALID", "the webhook URL %q is not an absolute URL like https://host:port/path", s)
	case u.Scheme != "https":
		return Errorf(KindInvalid, "WEBHOOK_URL_INVALID", "the webhook URL must use https (deliveries carry personal data), got %q", u.Scheme)
	case u.User != nil:
		return Errorf(KindInvalid, "WEBHOOK_URL_INVALID", "the webhook URL must not carry credentials: deliveries are signed by the hub, verify that instead")
	}
	return nil
}
