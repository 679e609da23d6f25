package gen

import (
	"github.com/zhiliao/zhiliao/model"

	"crypto/sha256"
	"fmt"
	"strings"
)

// name draws a Chinese name: one surname and one or two given characters.
func (g *generator) name() string {
	var b strings.Builder
	b.WriteRune(surnames[g.pick(len(surnames))])
	for i := 0; i < 1+g.pick(2); i++ {
		b.WriteRune(givenChars[g.pick(len(givenChars))])
	}
	return b.String()
}

// demographics draws a patient: name, gender, birth date, mobile and a
// resident ID number with a valid GB 11643 check digit.
func (g *generator) demographics() (name, gender, birth, phone, id string) {
	name = g.name()
	gender = "M"
	if g.chance(0.52) {
		gender = "F"
	}
	y, m, d := 1935+g.pick(85), 1+g.pick(12), 1+g.pick(28)
	birth = fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	phone = fmt.Sprintf("1%d%d%08d", 3+g.pick(7), g.pick(10), g.pick(100000000))
	seqNo := g.pick(500)*2 + 1
	if gender == "F" {
		seqNo--
	}
	body := fmt.Sprintf("%06d%04d%02d%02d%03d", 110101+g.pick(500)*100, y, m, d, seqNo)
	return name, gender, birth, phone, body + idCheck(body)
}

func idCheck(body string) string { return string(model.NationalIDCheck(body)) }

// blob makes deterministic bytes standing in for an image or signature: a
// PNG signature followed by a digest of what it depicts.
func (g *generator) blob(kind string, id int64) []byte {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s-%d-%d", kind, id, g.cfg.Seed)))
	return append([]byte("\x89PNG\r\n\x1a\n"), h[:]...)
}

func cnNum(n int) string {
	digits := []string{"零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"}
	if n <= 10 {
		return digits[n]
	}
	if n < 20 {
		return "十" + digits[n-10]
	}
	return fmt.Sprint(n)
}
