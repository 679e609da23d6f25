// Package hl7v2 reads and writes HL7 v2 messages: segments, fields and
// components by the separators a message declares, and the ACK of a
// message. It is a codec, usable without a server: the HIS intake, LIS
// results and the messages back to HIS use it alike.
package hl7v2

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Message is a parsed HL7 v2 message: segments split on CR, fields on the
// separator MSH-1 declares, and repetitions, components, subcomponents and
// escapes by the encoding characters of MSH-2. Text arrives as UTF-8 or,
// from the HIS of many Chinese hospitals, as GB18030 (GBK, GB2312): bytes
// that are not UTF-8 are read as GB18030 before anything is split, since a
// GBK character's second byte may equal a separator. No HL7 library for Go
// is kept well enough to prefer (see the commit that added this file).
type Message struct {
	segments [][]string // each: segment id, then fields 1..n, as sent (escaped)
	// The encoding characters of MSH-2: component, repetition, escape and
	// subcomponent separators; field is MSH-1.
	field, comp, rep, esc, sub string
}

// Parse parses one message. It requires an MSH segment first.
func Parse(raw []byte) (*Message, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 8 || string(raw[:3]) != "MSH" {
		return nil, fmt.Errorf("not an HL7 v2 message: no MSH segment first")
	}
	if !utf8.Valid(raw) {
		decoded, err := simplifiedchinese.GB18030.NewDecoder().Bytes(raw)
		if err != nil || !utf8.Valid(decoded) {
			return nil, fmt.Errorf("the message is neither UTF-8 nor GB18030 text")
		}
		raw = decoded
	}
	fieldSep := string(raw[3])
	text := strings.ReplaceAll(strings.ReplaceAll(string(raw), "\r\n", "\r"), "\n", "\r")
	m := &Message{field: fieldSep}
	for _, line := range strings.Split(text, "\r") {
		if line == "" {
			continue
		}
		fields := strings.Split(line, fieldSep)
		if len(fields[0]) != 3 {
			return nil, fmt.Errorf("bad segment %q", truncate(line, 20))
		}
		if fields[0] == "MSH" {
			// MSH-1 is the field separator itself: keep numbering as in the standard.
			fields = append([]string{"MSH", fieldSep}, fields[1:]...)
		}
		m.segments = append(m.segments, fields)
	}
	enc := []rune(m.raw("MSH", 2))
	if len(enc) < 4 {
		return nil, fmt.Errorf("MSH-2 encoding characters missing")
	}
	m.comp, m.rep, m.esc, m.sub = string(enc[0]), string(enc[1]), string(enc[2]), string(enc[3])
	if m.Field("MSH", 10) == "" {
		return nil, fmt.Errorf("MSH-10 message control id missing")
	}
	return m, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// raw is field n of the first segment named seg as sent ("" if absent).
func (m *Message) raw(seg string, n int) string {
	for _, s := range m.segments {
		if s[0] == seg {
			if n < len(s) {
				return s[n]
			}
			return ""
		}
	}
	return ""
}

// Field returns the first repetition of field n of the first segment named
// seg, unescaped ("" if absent). MSH-1 and MSH-2 are returned as sent.
func (m *Message) Field(seg string, n int) string {
	if seg == "MSH" && n <= 2 {
		return m.raw(seg, n)
	}
	return m.unescape(m.first(m.raw(seg, n)))
}

// Repetitions returns every repetition of field n of segment seg (PID-3
// with several identifiers, PID-13 with several phones), unescaped.
func (m *Message) Repetitions(seg string, n int) []string {
	raw := m.raw(seg, n)
	if raw == "" {
		return nil
	}
	out := strings.Split(raw, m.rep)
	for i, r := range out {
		out[i] = m.unescape(r)
	}
	return out
}

// first is the first repetition of a raw field.
func (m *Message) first(raw string) string {
	if m.rep == "" {
		return raw
	}
	return strings.SplitN(raw, m.rep, 2)[0]
}

// Comp returns component c (1-based) of the first repetition of field n of
// segment seg, unescaped.
func (m *Message) Comp(seg string, n, c int) string {
	parts := strings.Split(m.first(m.raw(seg, n)), m.comp)
	if c-1 < len(parts) {
		return m.unescape(parts[c-1])
	}
	return ""
}

// unescape resolves the escape sequences of HL7 v2 §2.7: \F\ \S\ \T\ \R\
// \E\ are the separators themselves, \Xhh…\ hexadecimal bytes, \.br\ a
// line break; any other sequence is dropped (formatting this reader does
// not render), never kept half-read.
func (m *Message) unescape(v string) string {
	if m.esc == "" || !strings.Contains(v, m.esc) {
		return v
	}
	var b strings.Builder
	for {
		i := strings.Index(v, m.esc)
		if i < 0 {
			b.WriteString(v)
			return b.String()
		}
		b.WriteString(v[:i])
		rest := v[i+len(m.esc):]
		j := strings.Index(rest, m.esc)
		if j < 0 { // an escape never closed: kept as text
			b.WriteString(v[i:])
			return b.String()
		}
		code := rest[:j]
		switch {
		case code == "F":
			b.WriteString(m.field)
		case code == "S":
			b.WriteString(m.comp)
		case code == "T":
			b.WriteString(m.sub)
		case code == "R":
			b.WriteString(m.rep)
		case code == "E":
			b.WriteString(m.esc)
		case code == ".br":
			b.WriteString("\n")
		case strings.HasPrefix(code, "X"):
			if h, err := hex.DecodeString(code[1:]); err == nil {
				b.Write(h)
			}
		}
		v = rest[j+len(m.esc):]
	}
}

// Escape writes value as field text under the standard encoding
// characters (|^~\&), so a value holding one of them arrives whole.
func Escape(value string) string {
	return strings.NewReplacer("\\", "\\E\\", "|", "\\F\\", "^", "\\S\\", "&", "\\T\\", "~", "\\R\\", "\r", "\\.br\\", "\n", "\\.br\\").Replace(value)
}

// ControlID is MSH-10, the message control id.
func (m *Message) ControlID() string { return m.Field("MSH", 10) }

// Type is MSH-9 as "ORM^O01".
func (m *Message) Type() string { return m.Comp("MSH", 9, 1) + "^" + m.Comp("MSH", 9, 2) }

// Ack builds the acknowledgement of m: code AA (accepted), AE (application
// error: the order was refused) or AR (rejected: the message was unreadable).
func Ack(m *Message, code, text, now string) []byte {
	ctrl, app, fac := "", "", ""
	if m != nil {
		ctrl, app, fac = m.ControlID(), m.Field("MSH", 3), m.Field("MSH", 4)
	}
	// Values copied from the message may hold our delimiters (a message may
	// declare other separators): blank them, or they would shift the fields.
	clean := strings.NewReplacer("|", " ", "^", " ", "~", " ", "\\", " ", "&", " ", "\r", " ", "\n", " ")
	text, ctrl, app, fac = clean.Replace(text), clean.Replace(ctrl), clean.Replace(app), clean.Replace(fac)
	return []byte(fmt.Sprintf("MSH|^~\\&|ZHILIAO|TREATMENT|%s|%s|%s||ACK|ACK%s|P|2.5\rMSA|%s|%s|%s\r", app, fac, now, ctrl, code, ctrl, truncate(text, 200)))
}
