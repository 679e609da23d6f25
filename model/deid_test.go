package model

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMasks(t *testing.T) {
	for _, tc := range []struct {
		fn       func(string) string
		in, want string
	}{
		{MaskPhone, "13812345678", "138****5678"},
		{MaskPhone, "8765432", "8*****2"}, // 7 digits: no longer unmasked
		{MaskPhone, "010-87654321", "010*****4321"},
		{MaskIDNumber, "11010519491231002X", "110105********002X"},
		{MaskIDNumber, "1101051949", "11******49"}, // 10 characters: no longer unmasked
		{MaskMRN, "H001MRN0000017", "H0**********17"},
		{MaskMRN, "MRN017", "*****7"},
	} {
		if got := tc.fn(tc.in); got != tc.want {
			t.Errorf("%q → %q, want %q", tc.in, got, tc.want)
		}
	}
	// Chinese values stay valid UTF-8, masked by characters.
	if got := MaskPhone("一二三四五六七八九十一"); got != "一二三****八九十一" {
		t.Errorf("Chinese phone → %q", got)
	}
	if got := MaskIDNumber("甲乙丙丁戊己庚辛壬癸"); got != "甲乙******壬癸" || !utf8.ValidString(got) {
		t.Errorf("Chinese ID → %q", got)
	}
}

// checkMask: valid UTF-8 out of valid UTF-8 in, the same number of
// characters, and at least share of them starred.
func checkMask(t *testing.T, what, in, out string, share float64) {
	if !utf8.ValidString(in) {
		return
	}
	if !utf8.ValidString(out) {
		t.Fatalf("%s(%q) = %q: invalid UTF-8", what, in, out)
	}
	n, m := utf8.RuneCountInString(in), utf8.RuneCountInString(out)
	if n != m {
		t.Fatalf("%s(%q) = %q: %d characters, want %d", what, in, out, m, n)
	}
	stars := strings.Count(out, "*") - strings.Count(in, "*")
	if n > 0 && float64(stars) < share*float64(n) {
		t.Fatalf("%s(%q) = %q: only %d of %d characters masked", what, in, out, stars, n)
	}
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"", "1", "13812345678", "8765432", "11010519491231002X", "1101051949", "欧阳娜娜", "张三", "\u3000\u3000", "😀😀😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, "*") {
			return // a value already holding stars cannot show how many were added
		}
		checkMask(t, "MaskPhone", s, MaskPhone(s), 0.35) // 138****5678: 4 of 11
		checkMask(t, "MaskMRN", s, MaskMRN(s), 0.5)
		checkMask(t, "MaskIDNumber", s, MaskIDNumber(s), 0.4) // 8 of 18
		if utf8.RuneCountInString(s) >= 2 {
			checkMask(t, "MaskName", s, MaskName(s), 0.3)
		}
	})
}
