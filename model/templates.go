package model

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// RecordField is one field of a treatment record form (治疗记录模板): the
// key it is stored under in the record's content, its Chinese label, and
// whether the record may be completed without it.
type RecordField struct {
	Key      string   `json:"key"`
	Label    string   `json:"label"`
	Kind     string   `json:"kind"` // text, number, choice
	Options  []string `json:"options,omitempty"`
	Unit     string   `json:"unit,omitempty"`
	Required bool     `json:"required"`
	// Min and Max bound a number field to what is physically plausible
	// (a laser's wavelength, a dialysis patient's weight): a value outside
	// is a typing error, refused with the field named.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
}

func bounds(min, max float64) (*float64, *float64) { return &min, &max }

// number is a number field with its plausible range.
func number(key, label, unit string, required bool, min, max float64) RecordField {
	f := RecordField{Key: key, Label: label, Kind: "number", Unit: unit, Required: required}
	f.Min, f.Max = bounds(min, max)
	return f
}

// recordCommon closes every record: how the patient bore the treatment.
var recordCommon = []RecordField{
	{Key: "reaction", Label: "患者反应", Kind: "choice", Options: []string{"耐受良好", "轻度不适", "明显不适"}, Required: true},
	{Key: "note", Label: "备注", Kind: "text"},
}

// recordTemplates are the record forms per project category, the fields a
// therapist fills at the end of a session. The hospital's own templates
// replace these through the project's template code when it has them.
var recordTemplates = map[string][]RecordField{
	"rehab": {{Key: "site", Label: "训练部位", Kind: "text", Required: true},
		{Key: "method", Label: "训练方法", Kind: "text", Required: true},
		{Key: "intensity", Label: "训练强度", Kind: "choice", Options: []string{"低", "中", "高"}, Required: true},
		number("minutes", "训练时长", "分钟", true, 1, 240)},
	"physio": {{Key: "site", Label: "治疗部位", Kind: "text", Required: true},
		{Key: "modality", Label: "理疗方式", Kind: "text", Required: true},
		{Key: "dose", Label: "剂量/强度", Kind: "text", Required: true}},
	"acupuncture": {{Key: "points", Label: "取穴", Kind: "text", Required: true},
		number("needles", "针数", "针", true, 1, 100),
		number("retain", "留针时间", "分钟", true, 1, 120)},
	// Lasers and lights in use run from the excimer's 308 nm to CO2's
	// 10 600 nm; fluences from fractions of a J/cm² to tens.
	"laser": {{Key: "site", Label: "治疗部位", Kind: "text", Required: true},
		number("wavelength", "波长", "nm", true, 190, 11000),
		number("energy", "能量密度", "J/cm²", true, 0.01, 100),
		number("spots", "光斑数", "", false, 1, 20000)},
	"dialysis": {number("weight_before", "透前体重", "kg", true, 2, 300),
		number("weight_after", "透后体重", "kg", true, 2, 300),
		number("uf", "超滤量", "mL", true, 0, 8000),
		{Key: "bp", Label: "血压", Kind: "text", Unit: "mmHg", Required: true}},
	"dressing": {{Key: "site", Label: "创面部位", Kind: "text", Required: true},
		{Key: "wound", Label: "创面情况", Kind: "choice", Options: []string{"清洁", "少量渗出", "大量渗出", "感染"}, Required: true},
		{Key: "dressing", Label: "敷料", Kind: "text", Required: true}},
	"massage": {{Key: "site", Label: "推拿部位", Kind: "text", Required: true},
		{Key: "technique", Label: "手法", Kind: "text", Required: true}},
}

// RecordTemplate is the record form of a project category; a category
// without its own form gets the general one (部位 and 治疗内容).
func RecordTemplate(category string) []RecordField {
	fields, ok := recordTemplates[category]
	if !ok {
		fields = []RecordField{{Key: "site", Label: "治疗部位", Kind: "text", Required: true},
			{Key: "content", Label: "治疗内容", Kind: "text", Required: true}}
	}
	return append(append([]RecordField{}, fields...), recordCommon...)
}

// maxRecordText bounds a text field of a record (characters).
const maxRecordText = 500

// ValidateRecordContent checks a record's content against its category's
// form: a JSON object whose number fields are numbers within their
// plausible range, whose choices are among the options and whose texts are
// strings of at most 500 characters. A value refused names the field
// ("record_content.wavelength") and says in Chinese what is wrong. Fields
// left out are not refused here: completeness is what the data-quality mart
// measures (RATING.md 06.01 完整性), and the forms ask for the required ones.
// Keys of no field of the form are kept as they are (a hospital's own
// template may add fields).
func ValidateRecordContent(category, content string) error {
	var values map[string]any
	dec := json.NewDecoder(strings.NewReader(content))
	dec.UseNumber()
	if err := dec.Decode(&values); err != nil || values == nil || dec.More() {
		return Invalid("record_content", "治疗记录须为 JSON 对象 (record content must be a JSON object)")
	}
	for _, f := range RecordTemplate(category) {
		v, ok := values[f.Key]
		if !ok || v == nil {
			continue
		}
		field := "record_content." + f.Key
		switch f.Kind {
		case "number":
			n, ok := v.(json.Number)
			x, err := n.Float64()
			if !ok || err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
				return Invalid(field, "%s须为数字", f.Label)
			}
			if (f.Min != nil && x < *f.Min) || (f.Max != nil && x > *f.Max) {
				return Invalid(field, "%s %s%s 不在合理范围 %s–%s%s 内，请核对", f.Label, n, f.Unit, fmtNum(*f.Min), fmtNum(*f.Max), f.Unit)
			}
		case "choice":
			s, ok := v.(string)
			if !ok || (s != "" && !slices.Contains(f.Options, s)) {
				return Invalid(field, "%s须为以下之一：%s", f.Label, strings.Join(f.Options, "、"))
			}
		default:
			s, ok := v.(string)
			if !ok {
				return Invalid(field, "%s须为文字", f.Label)
			}
			if utf8.RuneCountInString(s) > maxRecordText {
				return Invalid(field, "%s不超过 %d 字", f.Label, maxRecordText)
			}
		}
	}
	return nil
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// RecordLine is one line of a record as people read it: the form's label,
// the value and its unit.
type RecordLine struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Value string `json:"value"`
	Unit  string `json:"unit,omitempty"`
}

// RenderRecord is a record's content as the clinician signs it and the
// archive shows it: the form's fields in the form's order with their labels
// and units, then any key the form does not know, under its own name. It is
// a function of the content alone, so the signature over the content covers
// exactly this rendering. Content that is not a JSON object renders as one
// line of text.
func RenderRecord(category, content string) []RecordLine {
	var values map[string]any
	dec := json.NewDecoder(strings.NewReader(content))
	dec.UseNumber()
	if err := dec.Decode(&values); err != nil || values == nil {
		return []RecordLine{{Key: "", Label: "记录内容", Value: content}}
	}
	var out []RecordLine
	seen := map[string]bool{}
	for _, f := range RecordTemplate(category) {
		seen[f.Key] = true
		if v, ok := values[f.Key]; ok && v != nil && valueText(v) != "" {
			out = append(out, RecordLine{Key: f.Key, Label: f.Label, Value: valueText(v), Unit: f.Unit})
		}
	}
	var rest []string
	for k := range values {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		out = append(out, RecordLine{Key: k, Label: k, Value: valueText(values[k])})
	}
	return out
}

// valueText is a JSON value as a person reads it.
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return map[bool]string{true: "是", false: "否"}[x]
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}
