// Package mllp carries HL7 v2 messages over TCP in the Minimal Lower Layer
// Protocol: framing, a listener that answers each message with its
// handler's ACK (allow-list, frame limit, TLS by wrapping the listener), and
// a client that sends and waits for the ACK, retrying a lost connection.
package mllp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// MLLP framing: a message travels between a start block and an end block
// followed by a carriage return.
const (
	mllpStart = 0x0b
	mllpEnd   = 0x1c
	mllpCR    = 0x0d
	// DefaultMaxFrame is the largest message taken by default: an order
	// message is a few kilobytes; 64 KiB leaves room for long diagnoses.
	DefaultMaxFrame = 64 << 10
)

// WriteFrame writes one MLLP-framed message.
func WriteFrame(w io.Writer, msg []byte) error {
	buf := make([]byte, 0, len(msg)+3)
	buf = append(append(append(buf, mllpStart), msg...), mllpEnd, mllpCR)
	_, err := w.Write(buf)
	return err
}

// ErrFrameTooLarge is returned by ReadFrame for a message over its limit.
var ErrFrameTooLarge = errors.New("mllp: frame too large")

// ReadFrame reads one MLLP-framed message of at most max bytes.
func ReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if b == mllpStart {
			break
		}
	}
	var msg []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if b == mllpEnd {
			if next, err := r.ReadByte(); err != nil || next != mllpCR {
				return nil, fmt.Errorf("mllp: end block not followed by CR")
			}
			return msg, nil
		}
		if len(msg) >= max {
			return nil, fmt.Errorf("%w: over %d bytes", ErrFrameTooLarge, max)
		}
		msg = append(msg, b)
	}
}

// Server accepts HL7 v2 connections from a peer system (the HIS) and answers every
// message with the ACK its handler returns. Only peers in Allow are served
// (a connection from anywhere else is closed unread: whoever reaches the
// port could otherwise create paid orders); a frame over MaxFrame ends its
// connection. TLS, when wanted, wraps the listener (tls.NewListener).
type Server struct {
	Handle   func(ctx context.Context, raw []byte) []byte
	Logger   *slog.Logger
	Allow    []netip.Prefix // empty: loopback only
	MaxFrame int            // 0: DefaultMaxFrame

	wg sync.WaitGroup
}

type peerKey struct{}

// PeerFrom returns the address of the MLLP peer a message came from.
func PeerFrom(ctx context.Context) string {
	p, _ := ctx.Value(peerKey{}).(string)
	return p
}

func (s *Server) allowed(addr net.Addr) (string, bool) {
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String(), false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host, false
	}
	a = a.Unmap()
	if len(s.Allow) == 0 {
		return host, a.IsLoopback()
	}
	for _, p := range s.Allow {
		if p.Contains(a) {
			return host, true
		}
	}
	return host, false
}

// Serve accepts connections on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			s.wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		peer, ok := s.allowed(conn.RemoteAddr())
		if !ok {
			if s.Logger != nil {
				s.Logger.Warn("mllp peer refused: not in --mllp-allow", "remote", conn.RemoteAddr().String())
			}
			conn.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(context.WithValue(ctx, peerKey{}, peer), conn)
		}()
	}
}

func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	go func() { <-ctx.Done(); conn.Close() }()
	max := s.MaxFrame
	if max <= 0 {
		max = DefaultMaxFrame
	}
	r := bufio.NewReader(conn)
	for {
		conn.SetReadDeadline(time.Now().Add(10 * time.Minute))
		msg, err := ReadFrame(r, max)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil && s.Logger != nil {
				s.Logger.Warn("mllp read", "remote", conn.RemoteAddr(), "err", err)
			}
			return
		}
		if err := WriteFrame(conn, s.Handle(ctx, msg)); err != nil {
			return
		}
	}
}
