package mllp_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/interop/mllp"
)

// FuzzReadFrame: whatever arrives, a frame is never longer than its limit
// and the reader never panics.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("\x0bMSH|^~\\&|HIS\x1c\x0d"), 16)
	f.Add([]byte("\x0b\x0b\x1c\x1c\x0d"), 4)
	f.Add([]byte("garbage"), 1)
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		if limit <= 0 || limit > 1<<16 {
			return
		}
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			msg, err := mllp.ReadFrame(r, limit)
			if err != nil {
				return
			}
			if len(msg) > limit {
				t.Fatalf("frame of %d bytes over the limit %d", len(msg), limit)
			}
		}
	})
}

// TestClientRetriesALostConnection: the first connection is dropped before
// its ACK (the peer restarting); the client connects again and gets the
// ACK of the same message, sent again. A peer that never answers ends in
// an error after the retries, within the context's time.
func TestClientRetriesALostConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := conns.Add(1)
			go func(c net.Conn) {
				defer c.Close()
				msg, err := mllp.ReadFrame(bufio.NewReader(c), mllp.DefaultMaxFrame)
				if err != nil || n == 1 {
					return // the first connection is lost before the ACK
				}
				mllp.WriteFrame(c, append([]byte("ACK of "), msg...))
			}(c)
		}
	}()
	cl := &mllp.Client{Addr: ln.Addr().String(), Attempts: 3, Backoff: 10 * time.Millisecond, Timeout: 2 * time.Second}
	ack, err := cl.Send(context.Background(), []byte("MSH|^~\\&|ZHILIAO"))
	if err != nil || string(ack) != "ACK of MSH|^~\\&|ZHILIAO" || conns.Load() != 2 {
		t.Fatalf("ack %q, err %v after %d connections", ack, err, conns.Load())
	}

	dead, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	go func() {
		for {
			c, err := dead.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	cl = &mllp.Client{Addr: dead.Addr().String(), Attempts: 2, Backoff: 10 * time.Millisecond, Timeout: 100 * time.Millisecond}
	start := time.Now()
	if _, err := cl.Send(context.Background(), []byte("MSH")); err == nil || !errors.Is(err, mllp.ErrNoAck) {
		t.Fatalf("a silent peer: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("gave up after %v", time.Since(start))
	}
}
