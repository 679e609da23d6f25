package mllp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// ErrNoAck is a message that got no acknowledgement after every attempt.
var ErrNoAck = errors.New("mllp: no acknowledgement")

// Client sends HL7 v2 messages to a peer (the HIS, for the messages back to
// it) and waits for each one's ACK. A connection lost before the ACK, or an
// ACK that does not come within Timeout, is retried on a new connection up
// to Attempts times, waiting Backoff, then twice as long, between them: the
// receiver deduplicates by MSH-10, so a resent message is applied once.
type Client struct {
	Addr     string
	TLS      *tls.Config   // nil: plain TCP
	Timeout  time.Duration // per attempt: connect, send and the ACK (0: 10 s)
	Attempts int           // 0: 3
	Backoff  time.Duration // 0: 1 s
	MaxFrame int           // the largest ACK taken (0: DefaultMaxFrame)
}

// Send sends msg and returns its ACK.
func (c *Client) Send(ctx context.Context, msg []byte) ([]byte, error) {
	attempts, wait := c.Attempts, c.Backoff
	if attempts <= 0 {
		attempts = 3
	}
	if wait <= 0 {
		wait = time.Second
	}
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, errors.Join(ErrNoAck, ctx.Err(), last)
			case <-time.After(wait):
			}
			wait *= 2
		}
		ack, err := c.once(ctx, msg)
		if err == nil {
			return ack, nil
		}
		last = err
	}
	return nil, fmt.Errorf("%w from %s after %d attempts: %v", ErrNoAck, c.Addr, attempts, last)
}

func (c *Client) once(ctx context.Context, msg []byte) ([]byte, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if c.TLS != nil {
		tc := tls.Client(conn, c.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, err
		}
		conn = tc
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	if err := WriteFrame(conn, msg); err != nil {
		return nil, err
	}
	max := c.MaxFrame
	if max <= 0 {
		max = DefaultMaxFrame
	}
	return ReadFrame(bufio.NewReader(conn), max)
}
