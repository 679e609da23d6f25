package qrsvg_test

import (
	"image"
	"image/color"
	"regexp"
	"strconv"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/zhiliao/zhiliao/qrsvg"
)

// TestDecodes: the SVG's modules, painted as its path says, are read back
// by ZXing (an independent decoder) as the text that was encoded.
func TestDecodes(t *testing.T) {
	for _, text := range []string{"http://127.0.0.1:8080/p/0123456789abcdef0123456789abcdef", "治疗预约 YY26120700000042", "x"} {
		svg, err := qrsvg.SVG(text)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(t, svg)
		if err != nil || got != text {
			t.Errorf("%q decoded as %q (%v)", text, got, err)
		}
	}
}

// decode paints the SVG's viewBox and path "M x yh1v1h-1z" squares at 6
// pixels a module and decodes the picture.
func decode(t *testing.T, svg []byte) (string, error) {
	t.Helper()
	vb := regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"`).FindSubmatch(svg)
	if vb == nil {
		t.Fatalf("no viewBox in %s", svg)
	}
	n, _ := strconv.Atoi(string(vb[1]))
	const px = 6
	img := image.NewGray(image.Rect(0, 0, n*px, n*px))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for _, m := range regexp.MustCompile(`M(\d+) (\d+)h1v1h-1z`).FindAllSubmatch(svg, -1) {
		x, _ := strconv.Atoi(string(m[1]))
		y, _ := strconv.Atoi(string(m[2]))
		for dy := 0; dy < px; dy++ {
			for dx := 0; dx < px; dx++ {
				img.SetGray(x*px+dx, y*px+dy, color.Gray{})
			}
		}
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}
