// Package evidence owns the rating evidence pack: one zip an evaluator can
// check with sha256sum, holding the rating workbooks and their PDFs, the
// dashboards' screenshots for the period, the rating rules, and a manifest
// of every file with its hash, the period, the scope, when it was made and
// how fresh the data was. Whatever could not be included (no Chromium for
// PDFs or screenshots) is listed in the manifest with the reason: the pack
// never leaves something out silently.
package evidence

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/reports"
)

// Reports are the rating reports a pack holds.
var Reports = []string{"emr-0601", "smart-service", "data-quality", "self-assessment"}

// Shot is one dashboard screenshot.
type Shot struct {
	Name string // file name in the pack, e.g. quality.png
	PNG  []byte
}

// Pack builds evidence packs from the marts.
type Pack struct {
	Source reports.Source
	Rules  *reports.Rules
	// RulesJSON is the rules file as loaded, copied into the pack.
	RulesJSON []byte
	// Screenshots renders the dashboards for the period; nil or an error
	// leaves them out, named in the manifest.
	Screenshots func(ctx context.Context, p reports.Params) ([]Shot, error)
	// Interop gives the 互联互通 figures (workbooks/interop.xlsx); nil
	// leaves the workbook out, named in the manifest.
	Interop InteropSource
}

// File is one file of the pack, as the manifest lists it.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
}

// Omitted is something the pack could not include, and why.
type Omitted struct {
	What string `json:"what"`
	Why  string `json:"why"`
}

// Manifest is manifest.json.
type Manifest struct {
	Title        string          `json:"title"`
	From         string          `json:"from"`
	To           string          `json:"to"`
	Departments  []string        `json:"departments"`
	Generated    time.Time       `json:"generated_at"`
	By           string          `json:"generated_by"`
	RulesVersion string          `json:"rules_version"`
	Freshness    []freshnessLine `json:"data_freshness"`
	Files        []File          `json:"files"`
	Omitted      []Omitted       `json:"omitted,omitempty"`
}

type freshnessLine struct {
	Mart     string    `json:"mart"`
	DataAsOf time.Time `json:"data_as_of"`
	Behind   int64     `json:"events_behind"`
}

// Write builds the pack for p into out and returns its manifest. progress,
// when set, is told each step as it starts.
func (pk *Pack) Write(ctx context.Context, p reports.Params, out io.Writer, progress func(step string)) (*Manifest, error) {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
		p.Now = now
	}
	m := &Manifest{Title: "电子病历评级与智慧服务分级 治疗相关证据包", From: p.From, To: p.To, Departments: p.DeptNames,
		Generated: now.In(model.Local), By: p.By, RulesVersion: pk.Rules.Version}
	if fr, err := pk.Source.Freshness(ctx); err == nil {
		for _, f := range fr {
			m.Freshness = append(m.Freshness, freshnessLine{Mart: f.Title, DataAsOf: f.DataAsOf, Behind: f.Behind})
		}
	}
	zw := zip.NewWriter(out)
	add := func(path string, data []byte) error {
		h := sha256.Sum256(data)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: path, Method: zip.Deflate, Modified: now})
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
		m.Files = append(m.Files, File{Path: path, SHA256: hex.EncodeToString(h[:]), Bytes: len(data)})
		return nil
	}
	step := func(s string) {
		if progress != nil {
			progress(s)
		}
	}
	pdfOK := true
	for _, id := range Reports {
		rep := reports.ReportByID(id)
		step("workbook " + id)
		var buf bytes.Buffer
		if _, err := reports.Export(ctx, pk.Source, pk.Rules, rep, p, &buf, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		if err := add("workbooks/"+id+".xlsx", buf.Bytes()); err != nil {
			return nil, err
		}
		if !pdfOK {
			continue
		}
		step("pdf " + id)
		buf.Reset()
		if _, err := reports.ExportPDF(ctx, pk.Source, pk.Rules, rep, p, &buf, nil); err != nil {
			if model.ErrorCode(err) != model.EUNAVAILABLE && !errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("%s pdf: %w", id, err)
			}
			pdfOK = false
			m.Omitted = append(m.Omitted, Omitted{What: "PDF 版本 (pdf/*.pdf)", Why: model.ErrorMessage(err)})
			continue
		}
		if err := add("pdf/"+id+".pdf", buf.Bytes()); err != nil {
			return nil, err
		}
	}
	step("workbook interop")
	if pk.Interop == nil {
		m.Omitted = append(m.Omitted, Omitted{What: "互联互通 (workbooks/interop.xlsx)", Why: "未接入核心业务库 (no core to count from)"})
	} else {
		var buf bytes.Buffer
		if err := InteropWorkbook(ctx, pk.Interop, p, &buf); err != nil {
			return nil, fmt.Errorf("interop: %w", err)
		}
		if err := add("workbooks/interop.xlsx", buf.Bytes()); err != nil {
			return nil, err
		}
	}
	step("screenshots")
	switch {
	case pk.Screenshots == nil:
		m.Omitted = append(m.Omitted, Omitted{What: "看板截图 (screenshots/*.png)", Why: "未配置截图 (no renderer)"})
	default:
		shots, err := pk.Screenshots(ctx, p)
		if err != nil {
			m.Omitted = append(m.Omitted, Omitted{What: "看板截图 (screenshots/*.png)", Why: err.Error()})
		}
		for _, s := range shots {
			if err := add("screenshots/"+s.Name, s.PNG); err != nil {
				return nil, err
			}
		}
	}
	if len(pk.RulesJSON) > 0 {
		if err := add("rules/rules-"+pk.Rules.Version+".json", pk.RulesJSON); err != nil {
			return nil, err
		}
	}
	man, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "manifest.json", Method: zip.Deflate, Modified: now})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(man); err != nil {
		return nil, err
	}
	return m, zw.Close()
}
