// Package documents makes the shared documents as a rule of the core: every
// record signed (and signed again after an amendment) and every consent
// signed becomes a WS/T 500 CDA document in the registry, version by
// version, without anyone asking. It reads the core's facts (store), builds
// the XML (interop/cda) and registers it; a source lacking what the
// document needs is registered as a failure naming the field, never as an
// invalid document. The leader runs it in a loop; it is safe to run again
// over the same sources (the registry keeps one entry per source version).
package documents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zhiliao/zhiliao/interop/cda"
	"github.com/zhiliao/zhiliao/model"
)

// Core is what the generator needs of the store.
type Core interface {
	DocumentSources(ctx context.Context, since time.Time, limit int) ([]model.DocumentSource, error)
	DocumentFacts(ctx context.Context, src model.DocumentSource) (*model.DocumentFacts, error)
	RegisterDocuments(ctx context.Context, nds []model.NewDocument) ([]*model.Document, error)
	RecordDocumentFailure(ctx context.Context, src model.DocumentSource, institutionID, deptID int64, field, message string) error
}

// Generator turns signed sources into registered documents.
type Generator struct {
	Core    Core
	OIDRoot string // the hospital's OID for local code systems (cda.ExampleOIDRoot when empty)
	Now     func() time.Time
	Logger  *slog.Logger

	// since is the signing time from which the next round looks: the
	// first round looks at every source, later ones from a little before
	// the newest seen (a write committed late with an earlier time is
	// still found; what was done is skipped by the registry's check).
	since time.Time
}

// overlap is how far before the newest signing time a round looks again.
const overlap = 10 * time.Minute

// batch is how many sources a round reads at a time.
const batch = 500

// Result is what a round did.
type Result struct {
	Registered, Failed int
}

// RunOnce documents every source signed since the last round.
func (g *Generator) RunOnce(ctx context.Context) (Result, error) {
	var res Result
	since := g.since
	for {
		srcs, err := g.Core.DocumentSources(ctx, since, batch)
		if err != nil {
			return res, err
		}
		made := g.build(ctx, srcs)
		var ready []model.NewDocument
		for i, m := range made {
			src := srcs[i]
			switch {
			case m.err != nil:
				return res, fmt.Errorf("%s %d v%d: %w", src.Kind, src.SourceID, src.Version, m.err)
			case m.missing != nil:
				var inst, dept int64
				if m.facts.Project != nil {
					inst, dept = m.facts.Project.InstitutionID, m.facts.Project.DeptID
				}
				g.log().Warn("document not made", "kind", src.Kind, "source", src.SourceID, "version", src.Version, "field", m.missing.Field)
				if err := g.Core.RecordDocumentFailure(ctx, src, inst, dept, m.missing.Field, m.missing.Error()); err != nil {
					return res, err
				}
				res.Failed++
			case m.doc != nil:
				ready = append(ready, *m.doc)
			}
			if m.signed.After(since) {
				since = m.signed
			}
		}
		for len(ready) > 0 {
			n := min(len(ready), registerBatch)
			if _, err := g.Core.RegisterDocuments(ctx, ready[:n]); err != nil {
				return res, err
			}
			res.Registered += n
			ready = ready[n:]
		}
		if len(srcs) < batch {
			break
		}
	}
	if !since.IsZero() {
		g.since = since.Add(-overlap)
	}
	return res, nil
}

// registerBatch is how many documents one registering transaction holds.
const registerBatch = 100

// made is what building one source gave.
type made struct {
	doc     *model.NewDocument
	facts   *model.DocumentFacts
	missing *cda.MissingError
	signed  time.Time
	err     error
}

// workers build documents side by side: reading the facts and writing the
// XML are most of a document's cost, and independent of one another.
const workers = 2

// build reads the facts of srcs and builds their documents, in order.
func (g *Generator) build(ctx context.Context, srcs []model.DocumentSource) []made {
	out := make([]made, len(srcs))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(srcs); i += workers {
				out[i] = g.one(ctx, srcs[i])
			}
		})
	}
	wg.Wait()
	return out
}

// one builds one source's document, or says what it lacks. A source
// changed since it was listed is skipped: the next round sees its new version.
func (g *Generator) one(ctx context.Context, src model.DocumentSource) made {
	f, err := g.Core.DocumentFacts(ctx, src)
	if model.ErrorCode(err) == model.ECONFLICT {
		return made{}
	}
	if err != nil {
		return made{err: err}
	}
	m := made{facts: f, signed: f.SignedAt}
	doc, err := g.Doc(f)
	var xml []byte
	if err == nil {
		xml, err = cda.Build(doc)
	}
	if errors.As(err, &m.missing) {
		return m
	}
	if err != nil {
		m.err = err
		return m
	}
	m.doc = &model.NewDocument{Source: src, DocUID: doc.ID, SetUID: doc.SetID, Content: xml, Facts: f}
	return m
}

func (g *Generator) log() *slog.Logger {
	if g.Logger != nil {
		return g.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Doc is the document a source's facts make.
func (g *Generator) Doc(f *model.DocumentFacts) (*cda.Doc, error) {
	if f.Institution == nil || f.Patient == nil || f.Project == nil {
		return nil, &cda.MissingError{Field: "source", Label: "文档来源"}
	}
	prefix := map[string]string{model.DocTreatmentRecord: "TR", model.DocConsent: "IC"}[f.Source.Kind]
	set := fmt.Sprintf("%s-%s-%d", f.Institution.Code, prefix, f.Source.SourceID)
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	d := &cda.Doc{Kind: f.Source.Kind, ID: set + "-" + strconv.FormatInt(f.Source.Version, 10), SetID: set, Version: int(f.Source.Version),
		Replaces: f.Previous, Created: now(), OIDRoot: g.OIDRoot, SignedAt: f.SignedAt,
		Patient:     cda.Patient{NationalID: f.Patient.IDNumber, MRN: f.Patient.MRN, Name: f.Patient.Name, Gender: f.Patient.Gender, BirthDate: f.Patient.BirthDate},
		Custodian:   cda.Org{Code: f.Institution.Code, Name: f.Institution.Name},
		ProjectCode: f.Project.Code, ProjectName: f.Project.Name, Precautions: f.Project.Precautions}
	if f.Dept != nil {
		d.Dept = cda.Org{Code: f.Dept.Code, Name: f.Dept.Name}
	}
	if f.Author != nil {
		d.Author = cda.Person{Code: f.Author.Code, Name: f.Author.Name}
	}
	if f.Signer != nil {
		d.LegalAuthenticator = cda.Person{Code: f.Signer.Code, Name: f.Signer.Name}
	}
	switch f.Source.Kind {
	case model.DocTreatmentRecord:
		if s := f.Session; s != nil {
			d.SessionSeq, d.Start = int(s.SeqNo), s.StartedAt
			if s.EndedAt != nil {
				d.End = *s.EndedAt
			}
			if s.ConsentID != nil {
				d.ConsentNo = strconv.FormatInt(*s.ConsentID, 10)
			}
		}
		if o := f.Order; o != nil {
			d.OrderNo, d.DiagnosisCode, d.DiagnosisName = o.OrderNo, o.DiagnosisCode, o.DiagnosisName
		}
		if f.Record != nil {
			fields, err := recordFields(f.Project.Category, f.Record.Content)
			if err != nil {
				return nil, err
			}
			d.Fields = fields
		}
	case model.DocConsent:
		c := f.Consent
		d.ConsentNo = strconv.FormatInt(c.ID, 10)
		d.Signer, d.SignerRelation = cda.Person{Name: c.SignerName}, relations[c.SignerRelation]
		d.SignatureSHA256, d.TextSM3 = c.SignatureSHA256, c.TextSM3
		if f.Text != nil {
			d.ConsentTitle, d.ConsentBody = f.Text.Title, f.Text.Body
		}
	}
	return d, nil
}

// relations are the consent signer's relations, in Chinese.
var relations = map[string]string{"self": "本人", "spouse": "配偶", "parent": "父母", "child": "子女", "guardian": "监护人"}

// recordFields are a record's filled fields in its form's order, then any
// field the hospital's own form added, by key.
func recordFields(category, content string) ([]cda.Field, error) {
	var values map[string]any
	if err := json.Unmarshal([]byte(content), &values); err != nil {
		return nil, &cda.MissingError{Field: "record.content", Label: "可读的治疗记录内容"}
	}
	var out []cda.Field
	seen := map[string]bool{}
	for _, f := range model.RecordTemplate(category) {
		seen[f.Key] = true
		if v, ok := values[f.Key]; ok && v != nil {
			out = append(out, cda.Field{Key: f.Key, Label: f.Label, Value: text(v), Unit: f.Unit, Number: f.Kind == "number", Free: f.Key == "note"})
		}
	}
	var extra []string
	for k := range values {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, k := range extra {
		if values[k] != nil {
			out = append(out, cda.Field{Key: k, Label: k, Value: text(values[k]), Free: true})
		}
	}
	return out, nil
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "是"
		}
		return "否"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
