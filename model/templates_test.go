package model_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/zhiliao/zhiliao/model"
)

// TestValidateRecordContent: implausible values are refused with the field
// named; plausible ones, missing ones and keys of no field pass.
func TestValidateRecordContent(t *testing.T) {
	for _, c := range []struct {
		category, content, field string
	}{
		{"laser", `{"site":"面部","wavelength":532,"energy":2.5,"reaction":"耐受良好"}`, ""},
		{"laser", `{"wavelength":-532}`, "record_content.wavelength"},
		{"laser", `{"energy":9999}`, "record_content.energy"},
		{"laser", `{"energy":"2.5"}`, "record_content.energy"},
		{"laser", `{"wavelength":1e400}`, "record_content.wavelength"},
		{"laser", `{"reaction":"很好"}`, "record_content.reaction"},
		{"laser", `{"site":7}`, "record_content.site"},
		{"laser", `{"site":"` + strings.Repeat("面", 501) + `"}`, "record_content.site"},
		{"laser", `{"vas_after":3,"response":"良好"}`, ""}, // keys of no field are kept
		{"laser", `{}`, ""},
		{"dialysis", `{"weight_before":0.5}`, "record_content.weight_before"},
		{"dialysis", `{"uf":2500,"weight_before":61.2,"weight_after":59.0}`, ""},
		{"rehab", `[1,2]`, "record_content"},
		{"rehab", `{"a":1} {"b":2}`, "record_content"},
		{"rehab", `null`, "record_content"},
		{"rehab", `not json`, "record_content"},
	} {
		err := model.ValidateRecordContent(c.category, c.content)
		if got := model.ErrorField(err); got != c.field || (c.field != "" && model.ErrorCode(err) != model.EINVALID) {
			t.Errorf("%s %s: field %q (%v), want %q", c.category, c.content, got, err, c.field)
		}
	}
	err := model.ValidateRecordContent("laser", `{"wavelength":-532}`)
	if msg := model.ErrorMessage(err); !strings.Contains(msg, "波长") || !strings.Contains(msg, "190–11000nm") {
		t.Errorf("the message names neither the field nor its range: %q", msg)
	}
}

// TestRenderRecord: the form's fields in its order with labels and units,
// then keys the form does not know.
func TestRenderRecord(t *testing.T) {
	got := model.RenderRecord("laser", `{"energy":2.5,"zzz":true,"site":"面部","wavelength":532,"reaction":"耐受良好"}`)
	want := []model.RecordLine{{Key: "site", Label: "治疗部位", Value: "面部"}, {Key: "wavelength", Label: "波长", Value: "532", Unit: "nm"},
		{Key: "energy", Label: "能量密度", Value: "2.5", Unit: "J/cm²"}, {Key: "reaction", Label: "患者反应", Value: "耐受良好"},
		{Key: "zzz", Label: "zzz", Value: "是"}}
	if a, b := mustJSON(got), mustJSON(want); a != b {
		t.Errorf("rendered\n%s\nwant\n%s", a, b)
	}
	if got := model.RenderRecord("laser", "自由文本"); len(got) != 1 || got[0].Value != "自由文本" {
		t.Errorf("free text: %+v", got)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// FuzzRecordContent: no content makes the validator or the renderer panic,
// and every line rendered carries a label to show.
func FuzzRecordContent(f *testing.F) {
	for _, s := range []string{`{"wavelength":532}`, `{"energy":-1}`, `{"site":"面部","x":[1,{"y":null}]}`, `[]`, `{"a":1e999}`, ``} {
		f.Add("laser", s)
	}
	f.Fuzz(func(t *testing.T, category, content string) {
		_ = model.ValidateRecordContent(category, content)
		for _, l := range model.RenderRecord(category, content) {
			if l.Label == "" && l.Key != "" {
				t.Fatalf("%q renders a line without a label: %+v", content, l)
			}
		}
	})
}
