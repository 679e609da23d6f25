package api

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/go-chi/chi/v5"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/zhiliao/zhiliao/encode"
	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// Formats of query results, by the format parameter or the Accept header.
const (
	ctJSON  = "application/json; charset=utf-8"
	ctCSV   = "text/csv; charset=utf-8"
	ctArrow = "application/vnd.apache.arrow.stream"
)

// contentTypes are the response types of every format (marts answer as
// json, csv or arrow; tables as json, csv or xlsx).
var contentTypes = map[string]string{"json": ctJSON, "csv": ctCSV, "arrow": ctArrow, "xlsx": xlsxType}

// format picks the response format: format= wins, then Accept, then JSON.
func format(vals url.Values, accept string) (string, error) {
	if f := vals.Get("format"); f != "" {
		if f != "json" && f != "csv" && f != "arrow" {
			return "", model.Invalid("format", "format 应为 json、csv 或 arrow")
		}
		return f, nil
	}
	switch {
	case strings.Contains(accept, "application/vnd.apache.arrow.stream"):
		return "arrow", nil
	case strings.Contains(accept, "text/csv"):
		return "csv", nil
	}
	return "json", nil
}

// sliceParams filter a mart's key columns.
var sliceParams = []string{"institution", "dept", "project", "staff", "visit_type", "item", "dimension"}

var columnOfParam = map[string]string{"institution": etl.InstitutionKey, "dept": "dept_id", "project": "project_id", "staff": "staff_id",
	"visit_type": "visit_type", "item": "item", "dimension": "dimension"}

// listParam reads a parameter given as a comma list, repeated, or both.
func listParam(vals url.Values, name string) []string {
	var out []string
	for _, v := range vals[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// calendar is what the date presets need: the server's today and the last
// day with data on or before it (the anchor). A warehouse whose data ended a
// year ago still opens on its last month, not on an empty one.
type calendar struct {
	Today    string `json:"today"`               // by the server's clock, China time
	FirstDay string `json:"first_day,omitempty"` // the first day with a treatment session
	LastDay  string `json:"last_day,omitempty"`  // the last such day on or before today
	Anchor   string `json:"anchor"`              // last_day, or today when there is no data
	// Built is false until every mart has been built once (the first
	// minutes of a new service): the pages wait, showing MartsBuilt of
	// Marts, instead of querying empty marts.
	Built      bool `json:"built"`
	MartsBuilt int  `json:"marts_built"`
	Marts      int  `json:"marts"`
}

// martsBuilt counts the marts that have been built at least once.
func martsBuilt(ctx context.Context, a Analytics) (built, all int, err error) {
	fr, err := a.Freshness(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, f := range fr {
		if !f.LastSuccess.IsZero() {
			built++
		}
	}
	return built, len(fr), nil
}

// parseQuery reads the common parameters of a mart or detail query. Dates
// default to the 30 days ending today.
func parseQuery(vals url.Values, m *etl.Mart, today time.Time) (etl.Query, error) {
	q := etl.Query{From: vals.Get("from"), To: vals.Get("to"), Grain: vals.Get("grain"),
		Ints: map[string][]int64{}, Texts: map[string][]string{}}
	if q.To == "" {
		q.To = today.Format("2006-01-02")
	}
	if q.From == "" {
		if to, err := time.Parse("2006-01-02", q.To); err == nil {
			q.From = to.AddDate(0, 0, -29).Format("2006-01-02")
		}
	}
	for _, p := range sliceParams {
		list := listParam(vals, p)
		if list == nil {
			continue
		}
		col := columnOfParam[p]
		if col == "dept_id" || col == "project_id" || col == "staff_id" || col == etl.InstitutionKey {
			for _, v := range list {
				id, err := strconv.ParseInt(v, 10, 64)
				if err != nil || id < 0 {
					return q, model.Invalid(p, "%s 应为编号（整数）want integer ids, got %q", p, v)
				}
				q.Ints[col] = append(q.Ints[col], id)
			}
		} else {
			q.Texts[col] = list
		}
	}
	for _, g := range listParam(vals, "group_by") {
		if c, ok := columnOfParam[g]; ok {
			g = c
		}
		q.GroupBy = append(q.GroupBy, g)
	}
	if vals.Has("measures") {
		q.Measures = listParam(vals, "measures")
		if q.Measures == nil {
			q.Measures = []string{}
		}
	}
	return q, q.Validate(m)
}

// scope narrows q to the departments the actor may see (policy.MartDepartments):
// its department filter becomes exactly those, and asking for a department
// or an institution outside them is forbidden.
func (s *Server) scope(ctx context.Context, a Analytics, q *etl.Query) ([]int64, error) {
	dims, err := a.Dimensions(ctx)
	if err != nil {
		return nil, err
	}
	depts := make([]policy.Dept, len(dims.Departments))
	for i, d := range dims.Departments {
		depts[i] = policy.Dept{ID: d.ID, InstitutionID: d.InstitutionID}
	}
	insts := make([]int64, len(dims.Institutions))
	for i, d := range dims.Institutions {
		insts[i] = d.ID
	}
	asked := policy.MartQuery{Departments: q.Ints["dept_id"]}
	if ids, ok := q.Ints[etl.InstitutionKey]; ok {
		asked.Institutions = ids
		if asked.Institutions == nil {
			asked.Institutions = []int64{}
		}
		delete(q.Ints, etl.InstitutionKey)
	}
	ids, err := policy.MartDepartments(model.ActorFrom(ctx), depts, insts, asked)
	if err != nil {
		return nil, err
	}
	q.Ints["dept_id"] = ids
	return ids, nil
}

type martInfo struct {
	Name     string       `json:"name"`
	Title    string       `json:"title"`
	Keys     []columnInfo `json:"keys"`
	Measures []columnInfo `json:"measures"`
	Detail   []columnInfo `json:"detail"`
}

type columnInfo struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	Type  string `json:"type"`
}

var columnTypes = map[etl.ColumnType]string{etl.Date: "date", etl.Int: "int", etl.Text: "text", etl.Time: "time"}

func infos(cols []etl.Column) []columnInfo {
	out := make([]columnInfo, len(cols))
	for i, c := range cols {
		out[i] = columnInfo{Name: c.Name, Title: c.Title, Type: columnTypes[c.Type]}
	}
	return out
}

// resultColumns describes the columns of a result over m.
func resultColumns(m *etl.Mart, grain string, schema *arrow.Schema) []columnInfo {
	out := make([]columnInfo, schema.NumFields())
	for i, f := range schema.Fields() {
		t := "text"
		switch f.Type.ID() {
		case arrow.INT64:
			t = "int"
		case arrow.FLOAT64:
			t = "number"
		case arrow.DATE32:
			t = "date"
		case arrow.TIMESTAMP:
			t = "time"
		}
		out[i] = columnInfo{Name: f.Name, Title: m.ColumnTitle(grain, f.Name), Type: t}
	}
	return out
}

// cached is one encoded response, valid while its mart's stamp holds.
type cached struct {
	stamp       int64
	rows        int64
	etag        string
	contentType string
	body        []byte
}

// martCacheSize bounds the cached responses (dashboards ask a few dozen
// distinct queries per department and period).
const martCacheSize = 1024

func (s *Server) martCache() *lru.Cache[string, *cached] {
	s.cacheOnce.Do(func() { s.cache, _ = lru.New[string, *cached](martCacheSize) })
	return s.cache
}

func (s *Server) martRoutes() []route {
	queryParams := append([]string{"from", "to", "grain", "group_by", "measures", "format"}, sliceParams...)
	detailParams := append([]string{"from", "to", "page", "page_size", "format", "failing"}, sliceParams...)
	return []route{
		{Method: "GET", Pattern: "/api/v1/marts", Summary: "数据集市目录 the marts, their keys, measures and detail columns", Tag: "marts", Action: policy.ReadMarts,
			Response: listResponse[martInfo]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r); err != nil {
					return nil, err
				}
				out := make([]martInfo, len(etl.Marts))
				for i, m := range etl.Marts {
					out[i] = martInfo{Name: m.Name, Title: m.Title, Keys: infos(m.Keys), Measures: infos(m.Measures), Detail: infos(m.Detail)}
				}
				return list(out), nil
			})},
		{Method: "GET", Pattern: "/api/v1/calendar", Summary: "日历 today by the server's clock and the days that hold data: the dashboards' date presets anchor on it", Tag: "marts", Action: policy.ReadMarts,
			Response: calendar{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				a, err := s.analyticsWithoutParams(r)
				if err != nil {
					return nil, err
				}
				today := s.today().Format("2006-01-02")
				span, err := a.Span(ctx, today)
				if err != nil {
					return nil, err
				}
				c := calendar{Today: today, FirstDay: span.First, LastDay: span.Last, Anchor: today}
				if span.Last != "" {
					c.Anchor = span.Last
				}
				if c.MartsBuilt, c.Marts, err = martsBuilt(ctx, a); err != nil {
					return nil, err
				}
				c.Built = c.MartsBuilt == c.Marts
				return c, nil
			})},
		{Method: "GET", Pattern: "/api/v1/dimensions", Summary: "维度 departments, projects and staff within your scope", Tag: "marts", Action: policy.ReadMarts,
			Response: etl.Dims{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				a, err := s.analyticsWithoutParams(r)
				if err != nil {
					return nil, err
				}
				q := etl.Query{Ints: map[string][]int64{}}
				depts, err := s.scope(ctx, a, &q)
				if err != nil {
					return nil, err
				}
				all, err := a.Dimensions(ctx)
				if err != nil {
					return nil, err
				}
				out := etl.Dims{Institutions: []etl.Dim{}, Departments: []etl.Dim{}, Projects: []etl.Dim{}, Staff: []etl.Dim{}}
				insts := map[int64]bool{}
				for _, d := range all.Departments {
					if slices.Contains(depts, d.ID) {
						out.Departments = append(out.Departments, d)
						insts[d.InstitutionID] = true
					}
				}
				for _, d := range all.Institutions {
					if insts[d.ID] {
						out.Institutions = append(out.Institutions, d)
					}
				}
				for _, d := range all.Projects {
					if slices.Contains(depts, d.DeptID) {
						out.Projects = append(out.Projects, d)
					}
				}
				for _, d := range all.Staff {
					if slices.Contains(depts, d.DeptID) {
						out.Staff = append(out.Staff, d)
					}
				}
				return out, nil
			})},
		{Method: "GET", Pattern: "/api/v1/marts/{mart}", Summary: "数据集市查询 a mart's measures by period and keys: JSON, CSV or Arrow", Tag: "marts",
			Action: policy.ReadMarts, Params: queryParams, Response: martResponse{},
			handler: func(w http.ResponseWriter, r *http.Request) { s.martQuery(w, r, queryParams) }},
		{Method: "GET", Pattern: "/api/v1/marts/{mart}/detail", Summary: "下钻明细 the rows behind one cell, paginated, de-identified for evaluators", Tag: "marts",
			Action: policy.ReadMarts, Params: detailParams, Response: detailResponse{},
			handler: func(w http.ResponseWriter, r *http.Request) { s.martDetail(w, r, detailParams) }},
	}
}

// martResponse documents the JSON form of a mart query.
type martResponse struct {
	Mart     string       `json:"mart"`
	Title    string       `json:"title"`
	From     string       `json:"from"`
	To       string       `json:"to"`
	Grain    string       `json:"grain"`
	Stamp    int64        `json:"stamp"`
	Columns  []columnInfo `json:"columns"`
	Rows     [][]any      `json:"rows"`
	RowCount int64        `json:"row_count"`
}

// detailResponse documents the JSON form of a detail page.
type detailResponse struct {
	martResponse
	Page     int   `json:"page"`
	PageSize int   `json:"page_size"`
	Total    int64 `json:"total"`
}

func (s *Server) mart(r *http.Request) (*etl.Mart, Analytics, error) {
	m := etl.MartByName(chi.URLParam(r, "mart"))
	if m == nil {
		return nil, nil, model.Errorf(model.ENOTFOUND, "没有这个数据集市 %q (no such mart)", chi.URLParam(r, "mart"))
	}
	a, err := s.analytics()
	return m, a, err
}

// martRequest is what a mart or table request shares before its body: the
// parameters checked and parsed, the format (by pick), the department scope
// applied, and the mart's stamp.
type martRequest struct {
	vals  url.Values // the query, parsed once
	a     Analytics
	q     etl.Query
	f     string
	depts []int64
	stamp int64
}

func (s *Server) readMartRequest(r *http.Request, m *etl.Mart, params []string, pick func(url.Values, string) (string, error)) (*martRequest, error) {
	a, err := s.analytics()
	if err != nil {
		return nil, err
	}
	mr := &martRequest{a: a, vals: r.URL.Query()}
	if err := knownValues(mr.vals, params...); err != nil {
		return nil, err
	}
	if mr.q, err = parseQuery(mr.vals, m, s.today()); err != nil {
		return nil, err
	}
	if mr.f, err = pick(mr.vals, r.Header.Get("Accept")); err != nil {
		return nil, err
	}
	if mr.depts, err = s.scope(r.Context(), a, &mr.q); err != nil {
		return nil, err
	}
	mr.stamp, err = a.Stamp(r.Context(), m.Name)
	return mr, err
}

func (s *Server) martQuery(w http.ResponseWriter, r *http.Request, params []string) {
	ctx := r.Context()
	m, _, err := s.mart(r)
	var mr *martRequest
	if err == nil {
		mr, err = s.readMartRequest(r, m, params, format)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	a, q, f, depts, stamp := mr.a, mr.q, mr.f, mr.depts, mr.stamp
	// The key holds everything the body depends on: the query as asked,
	// the format and the departments the scope resolved to.
	key := fmt.Sprintf("mart:%s?%s|%s|%v", m.Name, mr.vals.Encode(), f, depts)
	filename := fmt.Sprintf("%s_%s_%s.csv", m.Name, q.From, q.To)
	s.serveCached(w, r, key, m.Name, stamp, f, filename, func(buf *bytes.Buffer) (int64, error) {
		rr, err := a.Query(ctx, m, q)
		if err != nil {
			return 0, err
		}
		return s.encodeResult(buf, f, m, q.Grain, rr, func(b *bytes.Buffer) {
			fmt.Fprintf(b, `{"mart":%q,"title":%q,"from":%q,"to":%q,"grain":%q,"stamp":%d,`, m.Name, m.Title, q.From, q.To, q.Grain, stamp)
		}, "")
	})
}

// serveCached answers from the response cache while the mart's stamp
// holds, else builds the body and caches it. The ETag names the mart, its
// stamp and the key, so it changes exactly when the body may. A CSV body
// is an export: it is in the audit log, served from cache or not.
func (s *Server) serveCached(w http.ResponseWriter, r *http.Request, key, mart string, stamp int64, f, filename string,
	build func(*bytes.Buffer) (int64, error)) {
	c := s.martCache()
	hit, ok := c.Get(key)
	if !ok || hit.stamp != stamp {
		var buf bytes.Buffer
		rows, err := build(&buf)
		if err != nil {
			writeError(w, r, err)
			return
		}
		h := fnv.New64a()
		h.Write([]byte(key))
		hit = &cached{stamp: stamp, rows: rows, etag: fmt.Sprintf(`"%s-%d-%x"`, mart, stamp, h.Sum64()), contentType: contentTypes[f], body: buf.Bytes()}
		c.Add(key, hit)
	}
	if f == "csv" || f == "xlsx" {
		if err := s.auditLine(r, "export", "GET "+chi.RouteContext(r.Context()).RoutePattern(), "mart", mart, http.StatusOK,
			fmt.Sprintf("%s rows=%d", r.URL.RawQuery, hit.rows)); err != nil {
			writeError(w, r, err)
			return
		}
	}
	w.Header().Set("ETag", hit.etag)
	w.Header().Set("Cache-Control", "private, no-cache")
	w.Header().Set("Vary", "Accept, Authorization, Cookie")
	if match := r.Header.Get("If-None-Match"); match != "" && match == hit.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", hit.contentType)
	if f == "csv" || f == "xlsx" {
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, filename))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(hit.body)))
	w.WriteHeader(http.StatusOK)
	w.Write(hit.body)
}

// encodeResult writes rr in format f. JSON is an object: head writes its
// leading fields, then columns, rows and row_count, then tail (more fields,
// each with its leading comma).
func (s *Server) encodeResult(buf *bytes.Buffer, f string, m *etl.Mart, grain string, rr array.RecordReader,
	head func(*bytes.Buffer), tail string) (int64, error) {
	cols := resultColumns(m, grain, rr.Schema())
	switch f {
	case "csv":
		titles := make([]string, len(cols))
		for i, c := range cols {
			titles[i] = c.Title
		}
		return encode.CSV(buf, rr, titles)
	case "arrow":
		return encode.Arrow(buf, rr)
	}
	head(buf)
	buf.WriteString(`"columns":`)
	if err := jsonTo(buf, cols); err != nil {
		rr.Release()
		return 0, err
	}
	buf.WriteString(`,"rows":`)
	n, err := encode.JSONRows(buf, rr)
	if err != nil {
		return n, err
	}
	fmt.Fprintf(buf, `,"row_count":%d%s}`, n, tail)
	return n, nil
}

// identities names a detail page's patients from the core, with their MRN,
// for an actor whose work needs identity (policy.SeesIdentity); nil keeps
// them as the warehouse holds them (masked by default).
func (s *Server) identities(actor model.Actor) etl.Identities {
	if !policy.SeesIdentity(actor) {
		return nil
	}
	return func(ctx context.Context, ids []int64) (map[int64]etl.Identity, error) {
		found, err := s.Backend.PatientIdentities(ctx, ids)
		out := make(map[int64]etl.Identity, len(found))
		for id, p := range found {
			out[id] = etl.Identity{Name: p.Name, MRN: p.MRN}
		}
		return out, err
	}
}

func (s *Server) martDetail(w http.ResponseWriter, r *http.Request, params []string) {
	ctx := r.Context()
	m, _, err := s.mart(r)
	var mr *martRequest
	if err == nil {
		mr, err = s.readMartRequest(r, m, params, format)
	}
	page, size := 1, 50
	if err == nil {
		page, size, err = pageParams(mr.vals, page, size)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	a, q, f := mr.a, mr.q, mr.f
	actor := model.ActorFrom(ctx)
	var failing bool
	switch v := mr.vals.Get("failing"); v {
	case "", "0", "false":
	case "1", "true":
		failing = true
	default:
		writeError(w, r, model.Invalid("failing", "failing 应为 1 或 0 (only the failing units: 1)"))
		return
	}
	if f == "csv" && !mr.vals.Has("page") {
		s.detailCSV(w, r, a, m, q, deidentified(actor), failing)
		return
	}
	dq := etl.DetailQuery{Query: q, Limit: size, Offset: (page - 1) * size, Deidentify: deidentified(actor), Failing: failing, Identities: s.identities(actor)}
	rr, total, err := a.Detail(ctx, m, dq)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var buf bytes.Buffer
	n, err := s.encodeResult(&buf, f, m, "day", rr, func(b *bytes.Buffer) {
		fmt.Fprintf(b, `{"mart":%q,"title":%q,"from":%q,"to":%q,"grain":"day",`, m.Name, m.Title, q.From, q.To)
	}, fmt.Sprintf(`,"page":%d,"page_size":%d,"total":%d`, page, size, total))
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Detail rows name patients: every read is in the audit log with its
	// filters and how many rows it returned, before a byte of them is sent.
	if err := s.auditRead(r, policy.Read{Route: "GET /api/v1/marts/{mart}/detail", Entity: "mart", ID: m.Name, Filters: r.URL.Query(), Rows: int64(n)}); err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentTypes[f])
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("X-Total-Count", strconv.FormatInt(total, 10))
	if f == "csv" {
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s_detail_%s_%s.csv"`, m.Name, q.From, q.To))
	}
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// detailCSV streams every detail row of the selection as CSV (the
// dashboards' 导出明细: all rows behind a cell, not the page on screen),
// straight from the warehouse's record reader to the response.
func (s *Server) detailCSV(w http.ResponseWriter, r *http.Request, a Analytics, m *etl.Mart, q etl.Query, deid, failing bool) {
	rr, total, err := a.Detail(r.Context(), m, etl.DetailQuery{Query: q, Limit: etl.MaxDownloadRows, Deidentify: deid, Download: true, Failing: failing,
		Identities: s.identities(model.ActorFrom(r.Context()))})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if total > etl.MaxDownloadRows {
		rr.Release()
		writeError(w, r, model.Invalid("from", "明细共 %d 行，超过单次导出上限 %d 行：请缩小日期范围或筛选条件 (too many rows for one download)", total, etl.MaxDownloadRows))
		return
	}
	cols := resultColumns(m, "day", rr.Schema())
	titles := make([]string, len(cols))
	for i, c := range cols {
		titles[i] = c.Title
	}
	if err := s.auditRead(r, policy.Read{Route: "GET /api/v1/marts/{mart}/detail", Entity: "mart", ID: m.Name, Filters: r.URL.Query(), Rows: total, All: true}); err != nil {
		rr.Release()
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentTypes["csv"])
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("X-Total-Count", strconv.FormatInt(total, 10))
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s_detail_%s_%s.csv"`, m.Name, q.From, q.To))
	if _, err := encode.CSV(w, rr, titles); err != nil {
		// The header is sent: the client sees a cut file; the log says why.
		s.Logger.Error("detail csv stream", "mart", m.Name, "err", err)
	}
}

// pageParams reads page (from 1) and page_size (1–1000).
func pageParams(vals url.Values, page, size int) (int, int, error) {
	if v := vals.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return 0, 0, model.Invalid("page", "page 应为从 1 开始的整数 want an integer from 1")
		}
		page = n
	}
	if v := vals.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return 0, 0, model.Invalid("page_size", "page_size 应为 1–1000 的整数 want an integer from 1 to 1000")
		}
		size = n
	}
	return page, size, nil
}
