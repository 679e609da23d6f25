package model

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
		{Key: "minutes", Label: "训练时长", Kind: "number", Unit: "分钟", Required: true}},
	"physio": {{Key: "site", Label: "治疗部位", Kind: "text", Required: true},
		{Key: "modality", Label: "理疗方式", Kind: "text", Required: true},
		{Key: "dose", Label: "剂量/强度", Kind: "text", Required: true}},
	"acupuncture": {{Key: "points", Label: "取穴", Kind: "text", Required: true},
		{Key: "needles", Label: "针数", Kind: "number", Unit: "针", Required: true},
		{Key: "retain", Label: "留针时间", Kind: "number", Unit: "分钟", Required: true}},
	"laser": {{Key: "site", Label: "治疗部位", Kind: "text", Required: true},
		{Key: "wavelength", Label: "波长", Kind: "number", Unit: "nm", Required: true},
		{Key: "energy", Label: "能量密度", Kind: "number", Unit: "J/cm²", Required: true},
		{Key: "spots", Label: "光斑数", Kind: "number", Required: false}},
	"dialysis": {{Key: "weight_before", Label: "透前体重", Kind: "number", Unit: "kg", Required: true},
		{Key: "weight_after", Label: "透后体重", Kind: "number", Unit: "kg", Required: true},
		{Key: "uf", Label: "超滤量", Kind: "number", Unit: "mL", Required: true},
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
