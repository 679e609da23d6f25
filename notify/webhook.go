package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// Webhook posts each notice as JSON to the hospital's message gateway (its
// SMS or WeChat service), signed with HMAC-SHA256 under a shared secret.
// Headers:
//
//	X-Zhiliao-Notice-Id: the notice id, the receiver's deduplication key
//	X-Zhiliao-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
//
// Any 2xx answer is a delivery; anything else, or no answer, is a failure.
type Webhook struct {
	URL    string
	Secret []byte
	Client *http.Client // default: a client with a 10 s timeout
	Now    func() time.Time
}

// Name implements Channel.
func (w *Webhook) Name() string { return "webhook" }

// WebhookBody is what the webhook posts.
type WebhookBody struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	Critical  bool      `json:"critical"`
	Content   string    `json:"content"`
	QueuedAt  time.Time `json:"queued_at"`
	Attempt   int64     `json:"attempt"`
	Patient   Recipient `json:"patient"`
	RefEntity string    `json:"ref_entity"`
	RefID     int64     `json:"ref_id"`
}

// Recipient is who the gateway sends the notice to.
type Recipient struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"` // masked
	Phone string `json:"phone"`
}

// Deliver implements Channel.
func (w *Webhook) Deliver(ctx context.Context, n model.OutgoingNotice) error {
	body, err := json.Marshal(WebhookBody{ID: n.ID, Kind: n.Kind, Critical: n.Critical, Content: n.Content, QueuedAt: n.QueuedAt,
		Attempt: n.Attempts + 1, Patient: Recipient{ID: n.PatientID, Name: n.PatientName, Phone: n.Phone}, RefEntity: n.RefEntity, RefID: n.RefID})
	if err != nil {
		return err
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-Zhiliao-Notice-Id", strconv.FormatInt(n.ID, 10))
	req.Header.Set("X-Zhiliao-Signature", Sign(w.Secret, now(), body))
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %d: %s", resp.StatusCode, strings.TrimSpace(string(answer)))
	}
	return nil
}

// Sign is the X-Zhiliao-Signature value of body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header against body, as a receiver does: the
// MAC must match, and the time must be within tolerance of now (a replayed
// old request is refused).
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, v1 string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || v1 == "" {
		return fmt.Errorf("signature header %q: want t=<unix>,v1=<hex>", header)
	}
	if !hmac.Equal([]byte(v1), []byte(mac(secret, ts, body))) {
		return fmt.Errorf("signature does not match")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("signature time %s is %s away from now", time.Unix(sec, 0).UTC().Format(time.RFC3339), d.Round(time.Second))
	}
	return nil
}
