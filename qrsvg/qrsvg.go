// Package qrsvg draws a QR code as an SVG image, for the links the front
// desk hands to patients (their phone page) and prints on receipts. The
// code itself is made by github.com/yeqown/go-qrcode (a well-kept encoder:
// versions, masks and Reed–Solomon are not ours to write); this package
// only draws its modules as one SVG path, so the image is small, sharp at
// any print size, and needs no image library in the browser.
package qrsvg

import (
	"fmt"
	"strings"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// quiet is the blank margin around the code, in modules (the standard's
// minimum is 4).
const quiet = 4

// SVG encodes text at error-correction level M and returns the SVG
// document, one unit per module with the quiet zone around it.
func SVG(text string) ([]byte, error) {
	q, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return nil, err
	}
	w := &matrixWriter{}
	if err := q.Save(w); err != nil {
		return nil, err
	}
	n := len(w.bits)
	size := n + 2*quiet
	var path strings.Builder
	for y, row := range w.bits {
		for x, on := range row {
			if on {
				fmt.Fprintf(&path, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	return fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`+
		`<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`, size, size, size, size, path.String()), nil
}

// matrixWriter keeps the code's modules (the encoder's Writer interface).
type matrixWriter struct{ bits [][]bool }

func (w *matrixWriter) Write(m qrcode.Matrix) error { w.bits = m.Bitmap(); return nil }
func (w *matrixWriter) Close() error                { return nil }
