// Package reports owns the definitions of what users read as tables: the
// catalogue of report tables (columns with header, order, format and width,
// shared by the dashboards and the exports so a table looks the same on
// screen and in a file), the rating rules behind the rating metrics (as
// versioned configuration embedded in the binary and replaceable by a file),
// and the formatting of cells. It reads mart results as Arrow records; it
// imports etl only for mart definitions, never their SQL.
package reports

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
)

//go:embed rules.json
var embeddedRules []byte

// Rule is one rating rule: an item code and a dimension whose coefficient
// is a numerator over a denominator, with the threshold it must reach.
type Rule struct {
	Item        string  `json:"item"`
	Rating      string  `json:"rating"` // emr or smart
	Level       int     `json:"level"`
	Dimension   string  `json:"dimension"`
	Title       string  `json:"title"`
	Numerator   string  `json:"numerator"`
	Denominator string  `json:"denominator"`
	Threshold   float64 `json:"threshold"`
	Basic       bool    `json:"basic"`
	// Name is the rating item's business name (业务项目); Functions the
	// functions of levels 3–4 that touch treatments, and Evidence where the
	// system records them (smart-service items).
	Name      string `json:"name"`
	Functions string `json:"functions,omitempty"`
	Evidence  string `json:"evidence,omitempty"`
}

// Rules is one version of the rating rules.
type Rules struct {
	Version       string             `json:"version"`
	Source        string             `json:"source"`
	Note          string             `json:"note"`
	Rules         []Rule             `json:"rules"`
	EMRCoverage   map[string]float64 `json:"emr_coverage"`
	SmartCoverage map[string]float64 `json:"smart_coverage"`
	EMRItem       struct {
		Code  string `json:"code"`
		Title string `json:"title"`
		Role  string `json:"role"`
		Basic bool   `json:"basic"`
	} `json:"emr_item"`
	SelfAssessment SelfAssessment `json:"self_assessment"`
	// Placeholders are the values that count as not filled, after every
	// Unicode space is trimmed (RATING.md 完整性).
	Placeholders     []string `json:"placeholders"`
	PlaceholdersNote string   `json:"placeholders_note"`
	Rounding         string   `json:"rounding"`
	Window           string   `json:"window"`
}

// SelfAssessment is how the self-assessment form scores and judges an item
// (RATING.md: level × coverage × data-quality index), with the choices the
// standard leaves open.
type SelfAssessment struct {
	Formula        string  `json:"formula"`
	CoverageMonths int     `json:"coverage_months"`
	DQIndex        string  `json:"dq_index"` // "min" (the lowest of an item's dimensions) or "mean"
	DQIndexNote    string  `json:"dq_index_note"`
	DQMin          float64 `json:"dq_min"`       // data quality every claimed level must reach
	PartialBand    float64 `json:"partial_band"` // 部分符合 from this share of a threshold
	PartialNote    string  `json:"partial_note"`
}

// Find returns the rule of an item and dimension.
func (r *Rules) Find(item, dimension string) (Rule, bool) {
	for _, x := range r.Rules {
		if x.Item == item && x.Dimension == dimension {
			return x, true
		}
	}
	return Rule{}, false
}

// LoadRules reads the rules from path, or the embedded version when path is
// empty, and checks them.
func LoadRules(path string) (*Rules, error) {
	data := embeddedRules
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, err
		}
	}
	var r Rules
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("rating rules %s: %w", path, err)
	}
	if r.Version == "" || len(r.Rules) == 0 {
		return nil, fmt.Errorf("rating rules %s: a version and at least one rule are required", path)
	}
	sa := r.SelfAssessment
	if sa.CoverageMonths < 1 || sa.CoverageMonths > 12 || (sa.DQIndex != "min" && sa.DQIndex != "mean") ||
		sa.DQMin <= 0 || sa.DQMin > 1 || sa.PartialBand <= 0 || sa.PartialBand >= 1 {
		return nil, fmt.Errorf("rating rules %s: self_assessment needs coverage_months 1–12, dq_index min or mean, dq_min in (0, 1] and partial_band in (0, 1)", path)
	}
	if r.EMRCoverage["basic"] <= 0 || r.EMRCoverage["selective"] <= 0 || r.SmartCoverage["basic"] <= 0 || r.SmartCoverage["selective"] <= 0 {
		return nil, fmt.Errorf("rating rules %s: emr_coverage and smart_coverage need basic and selective thresholds", path)
	}
	for _, p := range r.Placeholders {
		if strings.TrimSpace(p) == "" || strings.ContainsAny(p, "'\\") {
			return nil, fmt.Errorf("rating rules %s: placeholder %q must be non-blank and hold no quote or backslash", path, p)
		}
	}
	for _, x := range r.Rules {
		if x.Item == "" || x.Dimension == "" || x.Threshold <= 0 || x.Threshold > 1 {
			return nil, fmt.Errorf("rating rules %s: rule %q/%q needs an item, a dimension and a threshold in (0, 1]", path, x.Item, x.Dimension)
		}
	}
	// Verdicts compare whole hundredths (Reaches): a threshold or band with
	// a third decimal would be compared as something else than it says.
	shares := map[string]float64{"self_assessment.dq_min": sa.DQMin, "self_assessment.partial_band": sa.PartialBand}
	for k, v := range r.EMRCoverage {
		shares["emr_coverage."+k] = v
	}
	for k, v := range r.SmartCoverage {
		shares["smart_coverage."+k] = v
	}
	for _, x := range r.Rules {
		shares["rule "+x.Item+"/"+x.Dimension] = x.Threshold
	}
	for name, v := range shares {
		if math.Abs(v*100-math.Round(v*100)) > 1e-9 {
			return nil, fmt.Errorf("rating rules %s: %s = %v has more than two decimals; thresholds and bands are whole hundredths", path, name, v)
		}
	}
	return &r, nil
}

// DefaultRules are the embedded rules.
func DefaultRules() *Rules {
	r, err := LoadRules("")
	if err != nil {
		panic(err) // the embedded file is checked by tests
	}
	return r
}

// RulesFile returns the rules file's bytes as LoadRules reads them: the file
// at path, or the embedded version.
func RulesFile(path string) ([]byte, error) {
	if path == "" {
		return embeddedRules, nil
	}
	return os.ReadFile(path)
}
