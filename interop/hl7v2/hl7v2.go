// Package hl7v2 reads and writes HL7 v2 messages: segments, fields and
// components by the separators a message declares, and the ACK of a
// message. It is a codec, usable without a server: the HIS intake, LIS
// results and the messages back to HIS use it alike.
package hl7v2

import (
	"bytes"
	"fmt"
	"strings"
)

// Message is a parsed HL7 v2 message: segments split on CR, fields on the
// separator that MSH-1 declares, components on MSH-2's first character.
// Only what order intake needs is implemented; no HL7 library for Go is kept
// well enough to prefer (see the commit that added this file).
type Message struct {
	segments [][]string // each: segment id, then fields 1..n
	comp     string
}

// Parse parses one message. It requires an MSH segment first.
func Parse(raw []byte) (*Message, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 8 || string(raw[:3]) != "MSH" {
		return nil, fmt.Errorf("not an HL7 v2 message: no MSH segment first")
	}
	fieldSep := string(raw[3])
	text := strings.ReplaceAll(strings.ReplaceAll(string(raw), "\r\n", "\r"), "\n", "\r")
	m := &Message{}
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
	enc := m.Field("MSH", 2)
	if len(enc) < 4 {
		return nil, fmt.Errorf("MSH-2 encoding characters missing")
	}
	m.comp = enc[:1]
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

// Field returns field n of the first segment named seg ("" if absent).
func (m *Message) Field(seg string, n int) string {
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

// Comp returns component c (1-based) of field n of segment seg.
func (m *Message) Comp(seg string, n, c int) string {
	parts := strings.Split(m.Field(seg, n), m.comp)
	if c-1 < len(parts) {
		return parts[c-1]
	}
	return ""
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
