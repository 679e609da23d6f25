package clickhouse

import "unsafe"

// unsafePointer lets an []arrow.Timestamp be read as the []int64 it is
// (arrow.Timestamp is an int64), so a non-null timestamp column reaches
// clickhouse-go without a copy.
func unsafePointer[T any](p *T) unsafe.Pointer { return unsafe.Pointer(p) }
