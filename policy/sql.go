package policy

import "strconv"

// SQL is what a warehouse engine spells differently in the masking
// expressions below: a warehouse implements it, and the same masks then
// run inside its queries (a view of masked columns, a drill-down read in
// place) with the results the Go masks give (model.MaskName, …), which the
// warehouse contract suite checks on every engine. Every operation takes
// constant counts: ClickHouse 18.16 takes no computed length in substring.
type SQL interface {
	// Chars is the length of a text in characters, not bytes.
	Chars(expr string) string
	// First and Last are a text's first and last n characters (all of it
	// when shorter); DropFirst and DropLast the text without them.
	First(expr string, n int) string
	Last(expr string, n int) string
	DropFirst(expr string, n int) string
	DropLast(expr string, n int) string
	// Stars is a text with every character replaced by *.
	Stars(expr string) string
	// Concat joins texts.
	Concat(parts ...string) string
}

// MaskNameSQL is model.MaskName as an expression over col: 张三 → 张*,
// 张三丰 → 张*丰, 欧阳娜娜 → 欧**娜, one character → *, empty stays empty.
func MaskNameSQL(d SQL, col string) string {
	n := d.Chars(col)
	return "CASE WHEN " + n + " = 0 THEN '' WHEN " + n + " = 1 THEN '*' WHEN " + n + " = 2 THEN " +
		d.Concat(d.First(col, 1), "'*'") + " ELSE " + maskMiddleSQL(d, col, 1, 1) + " END"
}

// maskMiddleSQL keeps head characters at the start and tail at the end and
// stars those between (the caller makes sure there are some).
func maskMiddleSQL(d SQL, col string, head, tail int) string {
	return d.Concat(d.First(col, head), d.Stars(d.DropLast(d.DropFirst(col, head), tail)), d.Last(col, tail))
}

// MaskPhoneSQL is model.MaskPhone for mobile numbers (11 characters or
// more: 138****5678); a shorter value is starred whole, which hides more
// than the Go mask does.
func MaskPhoneSQL(d SQL, col string) string {
	return "CASE WHEN " + d.Chars(col) + " >= 11 THEN " + maskMiddleSQL(d, col, 3, 4) + " ELSE " + d.Stars(col) + " END"
}

// Regexp patterns the engines share (both are RE2): the first or last n
// characters of a text, newlines included.
func headPattern(n int) string { return "'^(?s).{0," + strconv.Itoa(n) + "}'" }
func tailPattern(n int) string { return "'(?s).{0," + strconv.Itoa(n) + "}$'" }

// RegexpSQL spells SQL over an engine's RE2 functions: extract, replace
// the first match, replace every match, character length and concat.
type RegexpSQL struct {
	Length, Extract, ReplaceOne, ReplaceAll, Join func(args ...string) string
}

func (r RegexpSQL) Chars(e string) string            { return r.Length(e) }
func (r RegexpSQL) First(e string, n int) string     { return r.Extract(e, headPattern(n)) }
func (r RegexpSQL) Last(e string, n int) string      { return r.Extract(e, tailPattern(n)) }
func (r RegexpSQL) DropFirst(e string, n int) string { return r.ReplaceOne(e, headPattern(n), "''") }
func (r RegexpSQL) DropLast(e string, n int) string  { return r.ReplaceOne(e, tailPattern(n), "''") }
func (r RegexpSQL) Stars(e string) string            { return r.ReplaceAll(e, "'(?s).'", "'*'") }
func (r RegexpSQL) Concat(parts ...string) string    { return r.Join(parts...) }
