package gen

import (
	"fmt"
	"strings"
)

// risks are the category-specific passages of a consent text: what the
// treatment is, what may happen, what the patient must do. They follow the
// structure of the consent forms Chinese hospitals use for these treatments
// (治疗目的、可能的风险与并发症、替代方案、患者须知、声明).
var risks = map[string]struct{ what, risk, care string }{
	"laser": {
		"利用特定波长的激光或强光作用于皮肤靶组织，以改善色素、血管或纹理类皮肤问题。",
		"治疗时局部灼热、刺痛；治疗后红斑、水肿，数小时至数日消退；少数出现水疱、结痂、暂时性色素沉着或色素减退；极少数遗留瘢痕；个体差异致疗效不一，需多次治疗。",
		"治疗后严格防晒至少 1 个月；结痂自然脱落，勿搔抓；7 天内避免化妆、桑拿和剧烈运动；如出现水疱、渗液或持续红肿，请及时复诊。",
	},
	"dermatology": {
		"以液氮低温冷冻破坏病变组织，适用于疣、脂溢性角化等浅表皮损。",
		"治疗时及治疗后疼痛；局部红肿、水疱或血疱；继发感染；暂时性色素改变；皮损复发需重复治疗；极少数遗留浅表瘢痕。",
		"保持创面清洁干燥，水疱勿自行挑破；如出现红肿加重、化脓或发热，请及时就诊。",
	},
	"physio": {
		"以冲击波作用于病变软组织和骨附着点，促进组织修复、缓解疼痛。",
		"治疗时局部疼痛；治疗后局部红肿、瘀斑或短暂疼痛加重；凝血功能障碍、治疗部位感染或肿瘤、孕妇等为禁忌。",
		"治疗后 48 小时内避免剧烈运动和热敷；如疼痛持续加重或出现麻木，请及时复诊。",
	},
	"dialysis": {
		"以血液透析（或透析滤过）清除体内代谢废物和多余水分，纠正电解质和酸碱平衡紊乱。",
		"低血压、肌肉痉挛、恶心呕吐、头痛；心律失常；透析器反应或过敏；出血或凝血；血管通路感染、血栓或闭塞；失衡综合征；极少数危及生命的意外。",
		"遵医嘱控制饮水和饮食，透析前称体重；保护血管通路，勿在通路侧肢体测血压、抽血；透析中如有不适立即告知医护人员。",
	},
}

// consentText is the demo's consent text for a project: realistic in
// structure and length, per treatment category.
func consentText(pt projectTemplate) (title, body string) {
	r, ok := risks[pt.category]
	if !ok {
		r = risks["physio"]
	}
	if pt.code == "PF001" { // UVB phototherapy is not a laser, though the catalogue files it there
		r.what = "以窄谱中波紫外线照射皮损，治疗银屑病、白癜风等皮肤病。"
		r.risk = "照射部位红斑、灼热、瘙痒、干燥；偶见水疱；长期治疗可致皮肤光老化，并可能增加皮肤肿瘤的远期风险。"
		r.care = "照射时佩戴护目镜；治疗期间避免日晒和光敏性药物、食物；如出现明显红斑或水疱，请告知医生调整剂量。"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "一、治疗目的与方法\n%s本次拟行：%s。\n\n", r.what, pt.name)
	fmt.Fprintf(&b, "二、可能的风险与并发症\n%s医务人员将按操作规范尽力预防，一旦发生将积极处理。\n\n", r.risk)
	b.WriteString("三、替代方案\n医生已告知可选择的其他治疗方法及不治疗的后果，患者可自主选择。\n\n")
	fmt.Fprintf(&b, "四、患者须知\n%s如实告知病史、过敏史、用药史及妊娠情况。\n\n", r.care)
	b.WriteString("五、患者声明\n医生已向我详细说明上述内容，我已阅读并理解本知情同意书的全部内容，对治疗的目的、风险和注意事项均已知晓，" +
		"有机会提出问题并得到满意答复。我自愿接受该项治疗，并同意在治疗前后采集治疗部位影像用于病历记录。")
	return "知情同意书（" + pt.name + "）", b.String()
}
