package cda

import (
	"bytes"
	"encoding/xml"
)

// node is an element being built: the documents are trees of a few hundred
// elements, written once, so a small builder that escapes every attribute
// and text through encoding/xml is simpler to read than a struct per CDA
// class (POCD_MT000040 has some 80) and cannot emit unescaped text.
type node struct {
	name  string
	attrs []xml.Attr
	text  string
	kids  []*node
}

// el makes an element with attributes given as name, value pairs; a pair
// whose value is empty is left out.
func el(name string, attrs ...string) *node {
	n := &node{name: name}
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] != "" {
			n.attrs = append(n.attrs, xml.Attr{Name: xml.Name{Local: attrs[i]}, Value: attrs[i+1]})
		}
	}
	return n
}

// add appends children (nil ones are skipped) and returns n.
func (n *node) add(kids ...*node) *node {
	for _, k := range kids {
		if k != nil {
			n.kids = append(n.kids, k)
		}
	}
	return n
}

// with sets n's text and returns n.
func (n *node) with(text string) *node { n.text = text; return n }

func (n *node) write(b *bytes.Buffer, depth int) {
	for i := 0; i < depth; i++ {
		b.WriteString("  ")
	}
	b.WriteByte('<')
	b.WriteString(n.name)
	for _, a := range n.attrs {
		b.WriteByte(' ')
		b.WriteString(a.Name.Local)
		b.WriteString(`="`)
		xml.EscapeText(b, []byte(a.Value))
		b.WriteByte('"')
	}
	switch {
	case len(n.kids) == 0 && n.text == "":
		b.WriteString("/>\n")
	case len(n.kids) == 0:
		b.WriteByte('>')
		xml.EscapeText(b, []byte(n.text))
		b.WriteString("</" + n.name + ">\n")
	default:
		b.WriteString(">\n")
		for _, k := range n.kids {
			k.write(b, depth+1)
		}
		for i := 0; i < depth; i++ {
			b.WriteString("  ")
		}
		b.WriteString("</" + n.name + ">\n")
	}
}
