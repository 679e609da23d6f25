package store

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// interopServices are the interaction services the 互联互通 evidence counts,
// by the audit lines of their routes (every call is audited, refused ones
// too), in the order the workbook lists them.
var interopServices = []struct{ title, route, not string }{
	{"文档查询（注册库）", "GET /api/v1/documents", ""},
	{"文档调阅（CDA 文档）", "GET /api/v1/documents/{id}/xml", ""},
	{"文档登记信息与签名核验", "GET /api/v1/documents/{id}", ""},
	{"FHIR 读取与检索", "GET /fhir/r4/%", "GET /fhir/r4/$export%"},
	{"FHIR 批量导出（发起）", "GET /fhir/r4/$export", ""},
	{"FHIR 批量导出（科室）", "GET /fhir/r4/Group/{id}/$export", ""},
}

// InteropStats counts, per month of [from, to), the documents registered
// (by the month their source was signed)
// and failed per kind with the median time from signature to registration,
// the calls of each interaction service and those refused, and the HL7
// messages out with those given up and the median time to their ACK.
func (db *DB) InteropStats(ctx context.Context, from, to time.Time) (*model.InteropStats, error) {
	// The reader's institution; the system (the command line's evidence
	// pack) counts the whole core, which holds one institution.
	inst := model.ActorFrom(ctx).InstitutionID
	instCond := "institution_id = ?"
	if inst == 0 {
		instCond = "institution_id >= ?"
	}
	f, t := formatTime(from), formatTime(to)
	out := &model.InteropStats{}
	month := func(at string) string { return at[:7] }
	// Documents: registered, and the seconds each took from its signature.
	type key struct{ month, name string }
	docs := map[key]*model.InteropMonth{}
	lat := map[key][]float64{}
	rows, err := db.q(ctx).QueryContext(ctx, "SELECT kind, effective_at, created_at FROM document WHERE "+instCond+" AND effective_at >= ? AND effective_at < ?", inst, f, t)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var kind, eff, created string
		if err := rows.Scan(&kind, &eff, &created); err != nil {
			rows.Close()
			return nil, err
		}
		k := key{month(eff), model.DocKindTitles[kind]}
		if docs[k] == nil {
			docs[k] = &model.InteropMonth{Month: k.month, Name: k.name}
		}
		docs[k].Count++
		e, _ := parseTime(eff)
		c, _ := parseTime(created)
		lat[k] = append(lat[k], c.Sub(e).Seconds())
	}
	rows.Close()
	rows, err = db.q(ctx).QueryContext(ctx, "SELECT kind, created_at FROM document_failure WHERE "+instCond+" AND created_at >= ? AND created_at < ?", inst, f, t)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var kind, created string
		if err := rows.Scan(&kind, &created); err != nil {
			rows.Close()
			return nil, err
		}
		k := key{month(created), model.DocKindTitles[kind]}
		if docs[k] == nil {
			docs[k] = &model.InteropMonth{Month: k.month, Name: k.name}
		}
		docs[k].Failed++
	}
	rows.Close()
	for k, m := range docs {
		m.MedianSeconds = median(lat[k])
		out.Documents = append(out.Documents, *m)
	}
	// Services, from their audit lines.
	for _, svc := range interopServices {
		cond, args := "route = ?", []any{inst, f, t, svc.route}
		if strings.HasSuffix(svc.route, "%") {
			cond = "route LIKE ? AND route NOT LIKE ? AND route NOT LIKE ?"
			args = append(args, svc.not, "GET /fhir/r4/Group/%")
		}
		rows, err := db.q(ctx).QueryContext(ctx, `SELECT substr(at, 1, 7), count(*), coalesce(sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) FROM audit_log
 WHERE `+instCond+` AND at >= ? AND at < ? AND `+cond+` GROUP BY substr(at, 1, 7)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			m := model.InteropMonth{Name: svc.title, MedianSeconds: -1}
			if err := rows.Scan(&m.Month, &m.Count, &m.Failed); err != nil {
				rows.Close()
				return nil, err
			}
			out.Services = append(out.Services, m)
		}
		rows.Close()
	}
	// HL7 messages out: sent, given up, and the time to their ACK.
	rows, err = db.q(ctx).QueryContext(ctx, "SELECT peer, status, created_at, done_at FROM feed_message WHERE "+instCond+" AND created_at >= ? AND created_at < ? AND status <> 'replayed'", inst, f, t)
	if err != nil {
		return nil, err
	}
	feed := map[key]*model.InteropMonth{}
	feedLat := map[key][]float64{}
	for rows.Next() {
		var peer, status, created string
		var done *string
		if err := rows.Scan(&peer, &status, &created, &done); err != nil {
			rows.Close()
			return nil, err
		}
		k := key{month(created), "HL7 消息发送（" + peer + "）"}
		if feed[k] == nil {
			feed[k] = &model.InteropMonth{Month: k.month, Name: k.name}
		}
		feed[k].Count++
		switch {
		case status == model.FeedDead:
			feed[k].Failed++
		case status == model.FeedAcked && done != nil:
			c, _ := parseTime(created)
			d, _ := parseTime(*done)
			feedLat[k] = append(feedLat[k], d.Sub(c).Seconds())
		}
	}
	rows.Close()
	for k, m := range feed {
		m.MedianSeconds = median(feedLat[k])
		out.Services = append(out.Services, *m)
	}
	// Documents by month and kind; services by month, each month's in the
	// order listed above (the stable sort keeps the order they were added
	// in), the HL7 peers last by name.
	sort.Slice(out.Documents, func(i, j int) bool {
		a, b := out.Documents[i], out.Documents[j]
		return a.Month < b.Month || a.Month == b.Month && a.Name < b.Name
	})
	hl7 := out.Services[len(out.Services)-len(feed):]
	sort.Slice(hl7, func(i, j int) bool { return hl7[i].Name < hl7[j].Name })
	sort.SliceStable(out.Services, func(i, j int) bool { return out.Services[i].Month < out.Services[j].Month })
	return out, nil
}

// median of xs, -1 when there are none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return -1
	}
	slices.Sort(xs)
	if n := len(xs); n%2 == 1 {
		return xs[n/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}
