package api_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/reports"
)

type tableJSON struct {
	Table, Title, From, To, Grain string
	Rules                         string `json:"rules_version"`
	Columns                       []reports.Column
	Rows                          [][]string
	Values                        [][]any
}

// TestTables: every report table answers for the pilot with its catalogue
// columns; derived cells equal sums over the mart computed here; the CSV
// download has exactly the headers and cell texts shown.
func TestTables(t *testing.T) {
	f := newMartFixture(t)
	tok := f.tokens[model.RoleQualityOffice]
	for _, tb := range reports.Tables {
		path := fmt.Sprintf("/api/v1/tables/%s?from=2026-08-24&to=2026-11-22", tb.ID)
		var j tableJSON
		f.mustDo(tok, "GET", path, nil, 200, &j)
		if len(j.Rows) == 0 || len(j.Columns) != len(tb.Columns) || j.Title != tb.Title || j.Rules == "" {
			t.Fatalf("%s: %+v", tb.ID, j)
		}
		for i, c := range j.Columns {
			if c.Header != tb.Columns[i].Header || c.Format != tb.Columns[i].Format {
				t.Errorf("%s column %d: %+v", tb.ID, i, c)
			}
		}
		resp, body := f.get(tok, path+"&format=csv")
		recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff")))).ReadAll()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s csv: %v %s", tb.ID, err, body)
		}
		var headers []string
		for _, c := range tb.Columns {
			headers = append(headers, c.Header)
		}
		if strings.Join(recs[0], "|") != strings.Join(headers, "|") || len(recs) != len(j.Rows)+1 {
			t.Errorf("%s csv headers %v, %d rows", tb.ID, recs[0], len(recs)-1)
		}
		for i, rec := range recs[1:] {
			if strings.Join(rec, "|") != strings.Join(j.Rows[i], "|") {
				t.Errorf("%s csv row %v, screen %v", tb.ID, rec, j.Rows[i])
			}
		}
	}

	// Utilisation per project, by hand from the mart.
	var j tableJSON
	f.mustDo(tok, "GET", "/api/v1/tables/project-summary?from=2026-09-01&to=2026-09-30", nil, 200, &j)
	var names []string
	for _, row := range j.Rows {
		names = append(names, row[0])
	}
	// Every clinic is for a project: utilisation is by project, not on one 未指定 row.
	if len(names) < 2 || slices.Contains(names, "未指定") {
		t.Errorf("project rows %v", names)
	}
	last := len(j.Columns) - 1
	for i, row := range j.Values {
		booked := count(t, f.wh, fmt.Sprintf(`SELECT sum(slot_booked) FROM mart_project m LEFT JOIN cur_project p ON p.id = m.project_id
			WHERE COALESCE(p.name, '未指定') = '%s' AND day BETWEEN DATE '2026-09-01' AND DATE '2026-09-30'`, row[0]))
		capacity := count(t, f.wh, fmt.Sprintf(`SELECT sum(slot_capacity) FROM mart_project m LEFT JOIN cur_project p ON p.id = m.project_id
			WHERE COALESCE(p.name, '未指定') = '%s' AND day BETWEEN DATE '2026-09-01' AND DATE '2026-09-30'`, row[0]))
		if capacity == 0 {
			if row[last] != nil || j.Rows[i][last] != "—" {
				t.Errorf("%s: utilisation %v with no capacity", row[0], row[last])
			}
			continue
		}
		want := float64(booked) / float64(capacity)
		if math.Abs(row[last].(float64)-want) > 1e-9 || j.Rows[i][last] != fmt.Sprintf("%.1f%%", want*100) {
			t.Errorf("%s: utilisation %v (%s), want %v", row[0], row[last], j.Rows[i][last], want)
		}
	}

	// Verdicts follow coefficient against threshold; money is yuan.
	f.mustDo(tok, "GET", "/api/v1/tables/data-quality-items?from=2026-08-24&to=2026-11-22", nil, 200, &j)
	for _, v := range j.Values {
		coef, thr, verdict := v[6].(float64), v[7].(float64), v[8].(string)
		coef = math.Round(coef*100) / 100 // judged at two decimals, as the rating platform does
		if v[1] == "" || v[1] == nil {
			t.Errorf("row %v has no rule title", v)
		}
		if (coef >= thr) != (verdict == "达标") {
			t.Errorf("row %v", v)
		}
	}
	f.mustDo(tok, "GET", "/api/v1/tables/revenue-by-project?from=2026-08-24&to=2026-11-22", nil, 200, &j)
	fen := count(t, f.wh, "SELECT sum(charges_fen) FROM mart_revenue")
	var yuan float64
	for _, v := range j.Values {
		yuan += v[2].(float64)
	}
	if math.Abs(yuan*100-float64(fen)) > 0.5 || !strings.HasPrefix(j.Rows[0][2], "¥") {
		t.Errorf("charges %v yuan, mart %d fen; cell %q", yuan, fen, j.Rows[0][2])
	}

	// The same table as a workbook: its sheet has the screen's headers and values.
	resp, xlsx := f.get(tok, "/api/v1/tables/revenue-by-project?from=2026-08-24&to=2026-11-22&format=xlsx")
	wb, err := excelize.OpenReader(bytes.NewReader(xlsx))
	if err != nil || resp.Header.Get("Content-Type") != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
		t.Fatalf("xlsx: %v %v", err, resp.Header)
	}
	rows, _ := wb.GetRows("项目收入", excelize.Options{RawCellValue: true})
	rows = rows[3:] // below the title block (报表名称, 单位…, 制表/审核)
	if len(rows) != len(j.Rows)+2 || rows[0][0] != "项目" || rows[0][2] != "治疗收入" || rows[len(rows)-1][0] != "合计" {
		t.Fatalf("xlsx rows %v", rows)
	}
	var sum float64
	for i, v := range j.Values {
		if rows[i+1][0] != v[0] || rows[i+1][2] != fmt.Sprint(v[2]) {
			t.Errorf("xlsx row %v, screen values %v", rows[i+1], v)
		}
		sum += v[2].(float64)
	}
	if total := rows[len(rows)-1][2]; total != fmt.Sprint(sum) {
		t.Errorf("合计 治疗收入 %s, the rows add up to %v", total, sum)
	}

	code, body := f.do(tok, "GET", "/api/v1/tables/project-summary?grain=week", nil)
	f.wantError(code, body, 400, model.EINVALID, "grain")
	code, body = f.do(tok, "GET", "/api/v1/tables/project-summary?group_by=dept", nil)
	f.wantError(code, body, 400, model.EINVALID, "group_by")
	code, body = f.do(tok, "GET", "/api/v1/tables/nope", nil)
	f.wantError(code, body, 404, model.ENOTFOUND, "")
}
