package fhir

import (
	"encoding/json"
	"fmt"
	"time"

	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// ContentType is what the FHIR routes answer with.
const ContentType = "application/fhir+json; charset=utf-8"

// enum reads a code into one of the models' enumerations.
func enum[T any](code string) T {
	var v T
	_ = json.Unmarshal([]byte(fmt.Sprintf("%q", code)), &v)
	return v
}

// Capability is the CapabilityStatement of exactly what is served: read
// and search of each kind with its parameters, includes and sorts.
func Capability(now time.Time, version string) r4.CapabilityStatement {
	c := r4.CapabilityStatement{Status: r4.PublicationStatusActive, Date: now.UTC().Format(time.RFC3339), Kind: r4.CapabilityStatementKindInstance,
		FhirVersion: r4.FHIRVersion4_0_1, Format: []string{"json"},
		Name: ptr("ZhiliaoTreatmentFHIR"), Title: ptr("zhiliao 综合治疗管理 FHIR R4 接口"),
		Software:       &r4.CapabilityStatementSoftware{Name: "zhiliao"},
		Implementation: &r4.CapabilityStatementImplementation{Description: "治疗全流程（医嘱、预约、治疗、知情同意、共享文档）的只读 FHIR R4 接口；按角色、科室与患者范围授权，评审专家为脱敏数据。"},
	}
	if version != "" { // FHIR strings are never empty
		c.Software.Version = ptr(version)
	}
	rest := r4.CapabilityStatementRest{Mode: r4.RestfulCapabilityModeServer,
		Security: &r4.CapabilityStatementRestSecurity{Description: ptr("Bearer 令牌（与 /api/v1 相同的登录会话）；角色、科室与患者范围与 API 相同")}}
	for _, k := range Kinds {
		res := r4.CapabilityStatementRestResource{Type: enum[r4.ResourceType](k.Type),
			Interaction:   []r4.CapabilityStatementRestResourceInteraction{{Code: r4.TypeRestfulInteractionRead}, {Code: r4.TypeRestfulInteractionSearchType}},
			SearchInclude: k.Includes}
		for _, p := range append([]Param{{"_id", "token", "资源编号"}}, k.Params...) {
			sp := r4.CapabilityStatementRestResourceSearchParam{Name: p.Name, Type: enum[r4.SearchParamType](p.Type)}
			if p.Doc != "" {
				sp.Documentation = ptr(p.Doc)
			}
			res.SearchParam = append(res.SearchParam, sp)
		}
		rest.Resource = append(rest.Resource, res)
	}
	c.Rest = []r4.CapabilityStatementRest{rest}
	return c
}

// Outcome is an OperationOutcome of one issue.
func Outcome(severity, code, diagnostics string, expression ...string) r4.OperationOutcome {
	return r4.OperationOutcome{Issue: []r4.OperationOutcomeIssue{{Severity: enum[r4.IssueSeverity](severity), Code: enum[r4.IssueType](code),
		Diagnostics: ptr(diagnostics), Expression: expression}}}
}

// Entry is a resource of a search result.
type Entry struct {
	FullURL  string
	Resource any
	Include  bool // added by _include, not a match
}

// Searchset is a search's Bundle: total matches, the page's entries and
// the links (self, next, previous) a client pages with.
func Searchset(total int, entries []Entry, links map[string]string) (r4.Bundle, error) {
	b := r4.Bundle{Type: r4.BundleTypeSearchset, Total: ptr(total), Timestamp: ptr(time.Now().UTC().Format(time.RFC3339))}
	for _, rel := range []string{"self", "next", "previous"} {
		if u, ok := links[rel]; ok {
			b.Link = append(b.Link, r4.BundleLink{Relation: rel, Url: u})
		}
	}
	for _, e := range entries {
		raw, err := json.Marshal(e.Resource)
		if err != nil {
			return b, err
		}
		mode := r4.SearchEntryModeMatch
		if e.Include {
			mode = r4.SearchEntryModeInclude
		}
		b.Entry = append(b.Entry, r4.BundleEntry{FullUrl: ptr(e.FullURL), Resource: raw, Search: &r4.BundleEntrySearch{Mode: &mode}})
	}
	return b, nil
}
