package model

// A core that relays into a regional warehouse beside other hospitals'
// cores has a namespace: its institution number n. Its entity ids and outbox
// seqs are drawn from [n<<NamespaceBits, (n+1)<<NamespaceBits), so nothing it
// ships meets another core's id or seq in the warehouse: the marts' joins on
// id stay right with many hospitals in one table, and the warehouse tells
// each core's high water apart by the seq alone. A core without a namespace
// (the embedded default) is namespace 0.
//
// 40 bits leave each core 10^12 ids; MaxNamespace keeps every id below 2^53,
// where a browser's numbers are still exact.
const (
	NamespaceBits = 40
	MaxNamespace  = 1<<13 - 1
)

// NamespaceOf is the namespace an id or seq belongs to.
func NamespaceOf(idOrSeq int64) int64 { return idOrSeq >> NamespaceBits }

// NamespaceBase is the first id or seq of namespace n, less one.
func NamespaceBase(n int64) int64 { return n << NamespaceBits }
