package cda

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/zhiliao/zhiliao/model"
)

// Withheld replaces free text in the de-identified view.
const Withheld = "（已隐去）"

// Mask is a document as an evaluator reads it: the patient's and the
// consent signer's names masked (王*明), the national ID and the MRN masked,
// free text (a record's note) withheld; every other byte as stored. It
// works on the XML itself, token by token, so that it applies to any
// version in the registry, and refuses what is not well-formed XML.
func Mask(doc []byte) ([]byte, error) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	var out bytes.Buffer
	out.Grow(len(doc))
	type frame struct {
		name     string
		identity bool // inside recordTarget or the consent signer's authenticator
		free     bool // text withheld
		freeObs  bool // an observation whose code is a free-text element
	}
	stack := []frame{{}}
	var last int64
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cda: not well-formed XML: %w", err)
		}
		end := dec.InputOffset()
		raw := doc[last:end]
		last = end
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			f := frame{name: t.Name.Local, identity: top.identity, free: top.free, freeObs: top.freeObs}
			switch t.Name.Local {
			case "recordTarget", "authenticator":
				f.identity = true
			case "observation":
				f.freeObs = false
			}
			changed := false
			for i, a := range t.Attr {
				switch {
				case a.Name.Local == "ID" && strings.HasPrefix(a.Value, "free"):
					f.free = true
				case a.Name.Local == "code" && t.Name.Local == "code" && a.Value == "DE06.00.179.00":
					stack[len(stack)-1].freeObs = true
				case a.Name.Local == "extension" && t.Name.Local == "id":
					switch attrOf(t, "root") {
					case OIDNationalID:
						t.Attr[i].Value, changed = model.MaskIDNumber(a.Value), true
					case OIDOutpatientNo:
						t.Attr[i].Value, changed = model.MaskMRN(a.Value), true
					}
				}
			}
			if t.Name.Local == "value" && top.freeObs {
				f.free = true
			}
			stack = append(stack, f)
			if changed {
				writeStart(&out, t, bytes.HasSuffix(bytes.TrimSpace(raw), []byte("/>")))
				continue
			}
		case xml.EndElement:
			// RawToken leaves the nesting to the caller: check it here.
			if len(stack) == 1 || top.name != t.Name.Local {
				return nil, fmt.Errorf("cda: not well-formed XML: unexpected </%s>", t.Name.Local)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			switch {
			case top.free && len(bytes.TrimSpace(t)) > 0:
				xml.EscapeText(&out, []byte(Withheld))
				continue
			case top.identity && top.name == "name" && len(bytes.TrimSpace(t)) > 0:
				xml.EscapeText(&out, []byte(model.MaskName(strings.TrimSpace(string(t)))))
				continue
			}
		}
		out.Write(raw)
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("cda: not well-formed XML: <%s> is not closed", stack[len(stack)-1].name)
	}
	return out.Bytes(), nil
}

func attrOf(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// writeStart writes a start tag as RawToken gave it (prefixes kept).
func writeStart(b *bytes.Buffer, t xml.StartElement, selfClosing bool) {
	b.WriteByte('<')
	b.WriteString(qname(t.Name))
	for _, a := range t.Attr {
		b.WriteString(" " + qname(a.Name) + `="`)
		xml.EscapeText(b, []byte(a.Value))
		b.WriteByte('"')
	}
	if selfClosing {
		b.WriteByte('/')
	}
	b.WriteByte('>')
}

func qname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}
