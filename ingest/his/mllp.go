package his

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// MLLP framing: a message travels between a start block and an end block
// followed by a carriage return.
const (
	mllpStart    = 0x0b
	mllpEnd      = 0x1c
	mllpCR       = 0x0d
	maxMLLPFrame = 1 << 20
)

// WriteFrame writes one MLLP-framed message.
func WriteFrame(w io.Writer, msg []byte) error {
	buf := make([]byte, 0, len(msg)+3)
	buf = append(append(append(buf, mllpStart), msg...), mllpEnd, mllpCR)
	_, err := w.Write(buf)
	return err
}

// ReadFrame reads one MLLP-framed message.
func ReadFrame(r *bufio.Reader) ([]byte, error) {
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
		if len(msg) >= maxMLLPFrame {
			return nil, fmt.Errorf("mllp: frame over %d bytes", maxMLLPFrame)
		}
		msg = append(msg, b)
	}
}

// MLLPServer accepts HL7 v2 connections from the HIS and answers every
// message with the ACK its handler returns.
type MLLPServer struct {
	Handle func(ctx context.Context, raw []byte) []byte
	Logger *slog.Logger

	wg sync.WaitGroup
}

// Serve accepts connections on ln until ctx ends.
func (s *MLLPServer) Serve(ctx context.Context, ln net.Listener) error {
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
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, conn)
		}()
	}
}

func (s *MLLPServer) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	go func() { <-ctx.Done(); conn.Close() }()
	r := bufio.NewReader(conn)
	for {
		conn.SetReadDeadline(time.Now().Add(10 * time.Minute))
		msg, err := ReadFrame(r)
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
