package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/zhiliao/zhiliao/encode"
	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
	"github.com/zhiliao/zhiliao/reports"
)

// tableResponse documents the JSON form of a report table: the text of
// each cell as shown (rows) and its value (values: numbers in display units,
// yuan not fen, ratios as fractions).
type tableResponse struct {
	Table   string           `json:"table"`
	Title   string           `json:"title"`
	From    string           `json:"from"`
	To      string           `json:"to"`
	Grain   string           `json:"grain"`
	Stamp   int64            `json:"stamp"`
	Rules   string           `json:"rules_version"`
	Columns []reports.Column `json:"columns"`
	Rows    [][]string       `json:"rows"`
	Values  [][]any          `json:"values"`
}

func (s *Server) rules() *reports.Rules {
	if s.Rules == nil {
		return reports.DefaultRules()
	}
	return s.Rules
}

func (s *Server) tableRoutes() []route {
	params := append([]string{"from", "to", "grain", "format"}, sliceParams...)
	return []route{
		{Method: "GET", Pattern: "/api/v1/tables", Summary: "报表表格目录 report tables shared by dashboards and exports", Tag: "marts", Action: policy.ReadMarts,
			Response: listResponse[reports.Table]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r); err != nil {
					return nil, err
				}
				return list(reports.Tables), nil
			})},
		{Method: "GET", Pattern: "/api/v1/tables/{table}", Summary: "报表表格 one report table as shown on screen: JSON or CSV with the same headers and formats",
			Tag: "marts", Action: policy.ReadMarts, Params: params, Response: tableResponse{},
			handler: func(w http.ResponseWriter, r *http.Request) { s.table(w, r, params) }},
	}
}

// tableFormat picks a table's format: json (default), csv or xlsx.
func tableFormat(vals url.Values, _ string) (string, error) {
	switch f := vals.Get("format"); f {
	case "":
		return "json", nil
	case "json", "csv", "xlsx":
		return f, nil
	}
	return "", model.Invalid("format", "format 应为 json、csv 或 xlsx")
}

func (s *Server) table(w http.ResponseWriter, r *http.Request, params []string) {
	ctx := r.Context()
	t := reports.TableByID(chi.URLParam(r, "table"))
	if t == nil {
		writeError(w, r, model.Errorf(model.ENOTFOUND, "没有这个报表 %q (no such table)", chi.URLParam(r, "table")))
		return
	}
	m := etl.MartByName(t.Mart)
	var err error
	if r.URL.Query().Has("grain") && !t.HasPeriod() {
		err = model.Invalid("grain", "报表 %s 不按周期分行 (the table has no period column)", t.ID)
	}
	var mr *martRequest
	if err == nil {
		mr, err = s.readMartRequest(r, m, params, tableFormat)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	a, q, f, depts, stamp := mr.a, mr.q, mr.f, mr.depts, mr.stamp
	q.GroupBy, q.Measures = t.GroupBy, t.Measures()
	if !t.HasPeriod() || !mr.vals.Has("grain") {
		q.Grain = t.Grain
	}
	key := fmt.Sprintf("table:%s?%s|%s|%v", t.ID, mr.vals.Encode(), f, depts)
	filename := fmt.Sprintf("%s_%s_%s.%s", t.ID, q.From, q.To, f)
	s.serveCached(w, r, key, m.Name, stamp, f, filename, func(buf *bytes.Buffer) (int64, error) {
		if f == "xlsx" { // the same table as a workbook: one sheet and its 说明
			actor := model.ActorFrom(ctx)
			p := reports.Params{From: q.From, To: q.To, Depts: depts, By: actor.Username + "（" + actor.Role + "）"}
			dims, err := a.Dimensions(ctx)
			if err != nil {
				return 0, err
			}
			for _, d := range dims.Departments {
				if slices.Contains(depts, d.ID) {
					p.DeptNames = append(p.DeptNames, d.Name)
				}
			}
			res, err := reports.Export(ctx, a, s.rules(), reports.TableReport(t, q.Grain), p, buf, nil)
			return res.Rows, err
		}
		rr, err := a.Query(ctx, m, q)
		if err != nil {
			return 0, err
		}
		cells, err := t.Build(rr, s.rules())
		if err != nil {
			return 0, err
		}
		resp := tableResponse{Table: t.ID, Title: t.Title, From: q.From, To: q.To, Grain: q.Grain, Stamp: stamp,
			Rules: s.rules().Version, Columns: t.Columns, Rows: make([][]string, len(cells)), Values: make([][]any, len(cells))}
		for i, row := range cells {
			resp.Rows[i], resp.Values[i] = make([]string, len(row)), make([]any, len(row))
			for j, c := range row {
				resp.Rows[i][j] = c.Text
				if tm, ok := c.Value.(time.Time); ok {
					resp.Values[i][j] = tm.Format(encode.DayLayout)
				} else {
					resp.Values[i][j] = c.Value
				}
			}
		}
		if f == "csv" {
			headers := make([]string, len(t.Columns))
			for i, c := range t.Columns {
				headers[i] = c.Header
			}
			return int64(len(cells)), encode.CSVText(buf, headers, resp.Rows)
		}
		return int64(len(cells)), jsonTo(buf, resp)
	})
}
