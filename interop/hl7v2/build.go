package hl7v2

import (
	"fmt"
	"regexp"
	"strings"
)

// Field is one field of a segment being built: its components, each
// escaped, joined by ^.
func Field(components ...string) string {
	for i, c := range components {
		components[i] = Escape(c)
	}
	return strings.TrimRight(strings.Join(components, "^"), "^")
}

// Segment is a segment from its name and fields (already built by Field),
// joined by |, ending in a carriage return.
func Segment(name string, fields ...string) string {
	return name + "|" + strings.TrimRight(strings.Join(fields, "|"), "|") + "\r"
}

// Header is an MSH segment of a message zhiliao sends: MSH-9 the type
// ("SIU^S12^SIU_S12"), MSH-10 the control id, version 2.5, UTF-8.
func Header(toApp, toFacility, now, msgType, controlID string) string {
	return "MSH|^~\\&|ZHILIAO|TREATMENT|" + Escape(toApp) + "|" + Escape(toFacility) + "|" + now + "||" + msgType + "|" + Escape(controlID) + "|P|2.5||||||UNICODE UTF-8\r"
}

var hl7Position = regexp.MustCompile(`^([A-Z][A-Z0-9]{2})-(\d{1,3})(?:\.(\d{1,3}))?$`)

// Nak is the refusing acknowledgement of m (code AE or AR) with the ERR
// segment HL7 v2.5 asks for: ERR-2 the location when field names an HL7
// position ("ORC-7" → ORC^1^7), ERR-3 the HL7 error code (table 0357),
// ERR-4 severity E, ERR-8 the field and the reason for a person to read.
func Nak(m *Message, code, field, text, now string) []byte {
	ack := string(Ack(m, code, text, now))
	loc := ""
	if p := hl7Position.FindStringSubmatch(field); p != nil {
		loc = p[1] + "^1^" + p[2]
		if p[3] != "" {
			loc += "^1^" + p[3]
		}
	}
	errCode := "207^Application internal error^HL70357"
	switch {
	case code == "AR":
		errCode = "102^Data type error^HL70357"
	case field == "MSH-9":
		errCode = "200^Unsupported message type^HL70357"
	case loc != "":
		errCode = "103^Table value not found^HL70357"
	}
	who := text
	if field != "" {
		who = field + ": " + text
	}
	return []byte(ack + fmt.Sprintf("ERR||%s|%s|E||||%s\r", loc, errCode, truncate(Escape(who), 250)))
}
