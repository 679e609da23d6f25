package etl

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/zhiliao/zhiliao/model"
)

// Watermarks is how far a mart was built, per namespace of the cores that
// feed the warehouse (model.NamespaceBits): the last seq of each it has
// seen. A warehouse fed by one core without a namespace has the one entry 0.
type Watermarks map[int64]int64

// Progress sums the namespaces' seqs counted from each one's start: it grows
// whenever any namespace's watermark does, so it stamps the mart's rows, and
// for a single core without a namespace it is that core's seq itself.
func (w Watermarks) Progress() int64 {
	var p int64
	for ns, seq := range w {
		p += seq - model.NamespaceBase(ns)
	}
	return p
}

// String is the form etl_runs keeps: "ns:seq" pairs by namespace.
func (w Watermarks) String() string {
	nss := make([]int64, 0, len(w))
	for ns := range w {
		nss = append(nss, ns)
	}
	sort.Slice(nss, func(i, j int) bool { return nss[i] < nss[j] })
	parts := make([]string, len(nss))
	for i, ns := range nss {
		parts[i] = fmt.Sprintf("%d:%d", ns, w[ns])
	}
	return strings.Join(parts, ",")
}

// parseWatermarks reads String's form. A run logged before there were
// namespaces has only its watermark: the seq of namespace 0.
func parseWatermarks(s string, legacy int64) (Watermarks, error) {
	w := Watermarks{}
	if s == "" {
		if legacy > 0 {
			w[model.NamespaceOf(legacy)] = legacy
		}
		return w, nil
	}
	for _, part := range strings.Split(s, ",") {
		nsText, seqText, ok := strings.Cut(part, ":")
		ns, err1 := strconv.ParseInt(nsText, 10, 64)
		seq, err2 := strconv.ParseInt(seqText, 10, 64)
		if !ok || err1 != nil || err2 != nil || model.NamespaceOf(seq) != ns {
			return nil, fmt.Errorf("etl_runs: watermarks %q: %q is not namespace:seq", s, part)
		}
		w[ns] = seq
	}
	return w, nil
}

// newSince is the SQL condition on cdc_events.seq of the events that landed
// after last and up to head, namespace by namespace ("" when none did).
func newSince(last, head Watermarks) string {
	nss := make([]int64, 0, len(head))
	for ns := range head {
		nss = append(nss, ns)
	}
	sort.Slice(nss, func(i, j int) bool { return nss[i] < nss[j] })
	var conds []string
	for _, ns := range nss {
		from := max(last[ns], model.NamespaceBase(ns))
		if head[ns] > from {
			conds = append(conds, fmt.Sprintf("(seq > %d AND seq <= %d)", from, head[ns]))
		}
	}
	return strings.Join(conds, " OR ")
}
