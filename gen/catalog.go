package gen

// deptTemplate describes one kind of treatment department and its projects.
type deptTemplate struct {
	code, name string
	projects   []projectTemplate
	diagnoses  [][2]string // ICD-10 code, name
}

type projectTemplate struct {
	code, name, category  string
	priceFen, minutes     int64
	courseMin, courseMax  int64 // sessions per course
	consent, images       bool
	emr, smart            bool
	followup              string
	interval              int // days between sessions
	precautions, template string
}

// departments is the catalogue the synthetic hospital draws from: twenty
// treatment departments of a tertiary hospital. EMR-rating scope follows
// RATING.md (repeated specialist treatments, laser and minimally invasive
// treatments in, as the seed paper's 激光中心 pilot; wound-clinic dressing care
// out, the choice RATING.md leaves to the hospital), while
// the smart-service scope includes every treatment.
var departments = []deptTemplate{
	{"KF", "康复医学科", []projectTemplate{
		{"KF001", "运动疗法", "rehab", 4500, 40, 10, 20, false, false, true, true, "1,7,30", 1, "请穿宽松衣物和运动鞋，治疗前 1 小时避免饱餐。", "REHAB-FMA"},
		{"KF002", "作业疗法", "rehab", 3800, 30, 10, 15, false, false, true, true, "7,30", 1, "", "REHAB-ADL"},
		{"KF003", "言语训练", "rehab", 3200, 30, 10, 20, false, false, true, true, "7,30", 1, "", "REHAB-SPEECH"},
	}, [][2]string{{"I63.9", "脑梗死"}, {"I61.9", "脑出血"}, {"S06.9", "颅脑损伤"}, {"G81.9", "偏瘫"}}},
	{"LL", "理疗科", []projectTemplate{
		{"LL001", "中频电疗", "physio", 1800, 20, 5, 10, false, false, true, true, "7", 1, "治疗部位请勿佩戴金属饰品。", "PHYSIO-VAS"},
		{"LL002", "超短波治疗", "physio", 1500, 20, 5, 10, false, false, true, true, "7", 1, "体内有金属植入物者请告知医生。", "PHYSIO-VAS"},
		{"LL003", "冲击波治疗", "physio", 25000, 15, 3, 5, true, false, true, true, "7,30", 5, "治疗后 48 小时内避免剧烈运动。", "PHYSIO-VAS"},
	}, [][2]string{{"M75.1", "肩袖综合征"}, {"M77.1", "肱骨外上髁炎"}, {"M72.2", "足底筋膜炎"}, {"M54.5", "腰痛"}}},
	{"ZJ", "针灸科", []projectTemplate{
		{"ZJ001", "普通针刺", "acupuncture", 3500, 30, 6, 12, false, false, true, true, "7,30", 1, "治疗前请进食，避免空腹。", "TCM-SYND"},
		{"ZJ002", "电针", "acupuncture", 4200, 30, 6, 12, false, false, true, true, "7,30", 1, "", "TCM-SYND"},
		{"ZJ003", "艾灸", "acupuncture", 3000, 30, 6, 10, false, false, true, true, "7", 1, "", "TCM-SYND"},
	}, [][2]string{{"G51.0", "面神经麻痹"}, {"M54.2", "颈痛"}, {"G43.9", "偏头痛"}, {"M54.5", "腰痛"}}},
	{"TN", "推拿科", []projectTemplate{
		{"TN001", "推拿治疗", "massage", 6000, 30, 5, 10, false, false, true, true, "7", 1, "", "TCM-SYND"},
		{"TN002", "小儿推拿", "massage", 4500, 20, 5, 10, false, false, true, true, "7", 1, "请家长陪同。", "TCM-PED"},
	}, [][2]string{{"M54.2", "颈痛"}, {"M54.5", "腰痛"}, {"M47.8", "脊椎关节强硬"}}},
	{"JG", "激光治疗中心", []projectTemplate{
		{"JG001", "调Q激光祛斑", "laser", 80000, 20, 3, 6, true, true, true, true, "7,30", 28, "治疗后注意防晒，结痂自然脱落。", "LASER-SKIN"},
		{"JG002", "点阵激光", "laser", 120000, 30, 3, 5, true, true, true, true, "7,30", 28, "治疗后 7 天内避免化妆。", "LASER-SKIN"},
		{"JG003", "强脉冲光", "laser", 60000, 20, 3, 6, true, true, true, true, "7", 21, "治疗后注意防晒。", "LASER-SKIN"},
		{"JG004", "红蓝光治疗", "laser", 15000, 20, 4, 6, false, true, true, true, "1,7", 3, "治疗期间避免日晒，勿挤压皮损。", "LASER-SKIN"},
	}, [][2]string{{"L81.4", "黄褐斑"}, {"L70.0", "痤疮"}, {"D18.0", "血管瘤"}, {"L90.5", "瘢痕"}}},
	{"PF", "皮肤科", []projectTemplate{
		{"PF001", "窄谱中波紫外线", "laser", 5000, 10, 10, 20, true, false, true, true, "30", 2, "治疗后注意避光。", "DERM-PASI"},
		{"PF002", "液氮冷冻", "dermatology", 8000, 10, 2, 4, true, true, true, true, "14", 14, "", "DERM-LESION"},
	}, [][2]string{{"L40.0", "寻常型银屑病"}, {"L80", "白癜风"}, {"B07", "病毒性疣"}}},
	{"XT", "血液净化中心", []projectTemplate{
		{"XT001", "血液透析", "dialysis", 48000, 240, 12, 13, true, false, true, true, "1,7", 2, "透析前请称体重，控制饮水。", "DIALYSIS-KT"},
		{"XT002", "血液透析滤过", "dialysis", 65000, 240, 12, 13, true, false, true, true, "1,7", 2, "", "DIALYSIS-KT"},
	}, [][2]string{{"N18.5", "慢性肾脏病5期"}, {"N18.4", "慢性肾脏病4期"}}},
	{"SK", "伤口造口门诊", []projectTemplate{
		{"SK001", "大换药", "dressing", 3500, 20, 3, 10, false, true, false, true, "1,7", 2, "保持敷料干燥。", "WOUND-BWAT"},
		{"SK002", "压疮护理", "dressing", 4500, 30, 5, 12, false, true, false, true, "7", 2, "", "WOUND-BWAT"},
	}, [][2]string{{"L89.9", "压疮"}, {"T14.1", "开放性伤口"}, {"E11.5", "糖尿病足"}}},
	{"TT", "疼痛科", []projectTemplate{
		{"TT001", "神经阻滞治疗", "pain", 30000, 30, 3, 6, true, false, true, true, "1,7,30", 3, "治疗后观察 30 分钟方可离开。", "PAIN-NRS"},
		{"TT002", "射频治疗", "pain", 150000, 60, 1, 2, true, false, true, true, "1,7,30", 14, "", "PAIN-NRS"},
	}, [][2]string{{"M54.1", "神经根病"}, {"B02.2", "带状疱疹后神经痛"}, {"M79.2", "神经痛"}}},
	{"GK", "骨科康复", []projectTemplate{
		{"GK001", "关节松动训练", "rehab", 5000, 30, 10, 20, false, false, true, true, "7,30", 1, "", "ORTHO-ROM"},
		{"GK002", "持续被动运动", "rehab", 3000, 40, 10, 14, false, false, true, true, "7", 1, "", "ORTHO-ROM"},
	}, [][2]string{{"Z96.6", "关节置换术后"}, {"S82.0", "髌骨骨折"}, {"M17.9", "膝关节病"}}},
	{"SJ", "神经康复科", []projectTemplate{
		{"SJ001", "平衡训练", "rehab", 4000, 30, 10, 20, false, false, true, true, "7,30", 1, "", "NEURO-BBS"},
		{"SJ002", "吞咽训练", "rehab", 4500, 30, 10, 20, false, false, true, true, "7,30", 1, "", "NEURO-SWAL"},
	}, [][2]string{{"I69.3", "脑梗死后遗症"}, {"G20", "帕金森病"}, {"R13", "吞咽困难"}}},
	{"XK", "心脏康复", []projectTemplate{
		{"XK001", "心肺运动训练", "rehab", 9000, 45, 12, 24, true, false, true, true, "7,30", 2, "携带常用药物，训练前监测血压。", "CARDIO-6MWT"},
	}, [][2]string{{"I25.1", "冠状动脉粥样硬化性心脏病"}, {"I50.9", "心力衰竭"}}},
	{"HX", "呼吸康复", []projectTemplate{
		{"HX001", "呼吸训练", "rehab", 3500, 30, 10, 15, false, false, true, true, "7,30", 1, "", "RESP-MMRC"},
	}, [][2]string{{"J44.9", "慢性阻塞性肺病"}, {"J84.1", "间质性肺病"}}},
	{"ER", "儿童康复科", []projectTemplate{
		{"ER001", "儿童运动训练", "rehab", 5500, 40, 10, 20, false, false, true, true, "30", 1, "请家长陪同并携带患儿水杯。", "PED-GMFM"},
		{"ER002", "感觉统合训练", "rehab", 5000, 40, 10, 20, false, false, true, true, "30", 1, "", "PED-SI"},
	}, [][2]string{{"G80.9", "脑性瘫痪"}, {"F82", "运动发育迟缓"}, {"F84.0", "孤独症"}}},
	{"ZY", "中医外治", []projectTemplate{
		{"ZY001", "拔罐", "acupuncture", 2000, 20, 5, 10, false, false, true, true, "7", 1, "", "TCM-SYND"},
		{"ZY002", "穴位贴敷", "acupuncture", 2500, 15, 5, 10, false, false, true, true, "7", 2, "", "TCM-SYND"},
	}, [][2]string{{"M54.2", "颈痛"}, {"J45.9", "哮喘"}}},
	{"FK", "妇产康复", []projectTemplate{
		{"FK001", "盆底肌电刺激", "physio", 12000, 30, 10, 15, true, false, true, true, "7,30", 2, "经期暂停治疗。", "PELVIC-GLAZER"},
	}, [][2]string{{"N39.3", "压力性尿失禁"}, {"O90.8", "产后盆底功能障碍"}}},
	{"YK", "眼科治疗", []projectTemplate{
		{"YK001", "视功能训练", "physio", 6000, 30, 10, 20, false, false, true, true, "30", 2, "", "EYE-VA"},
		{"YK002", "眼科激光", "laser", 90000, 20, 1, 2, true, true, true, true, "1,7", 14, "治疗后遵医嘱滴眼药水。", "EYE-VA"},
	}, [][2]string{{"H53.0", "弱视"}, {"H36.0", "糖尿病视网膜病变"}}},
	{"EB", "耳鼻喉治疗", []projectTemplate{
		{"EB001", "鼻腔冲洗", "physio", 2000, 15, 5, 10, false, false, true, true, "7", 1, "", "ENT-SNOT"},
		{"EB002", "耳鸣声治疗", "physio", 4000, 30, 10, 15, false, false, true, true, "30", 2, "", "ENT-THI"},
	}, [][2]string{{"J32.9", "慢性鼻窦炎"}, {"H93.1", "耳鸣"}}},
	{"ZL", "肿瘤康复", []projectTemplate{
		{"ZL001", "淋巴水肿综合消肿", "rehab", 8000, 45, 10, 20, false, false, true, true, "7,30", 1, "", "ONCO-LE"},
	}, [][2]string{{"I89.0", "淋巴水肿"}, {"C50.9", "乳腺恶性肿瘤"}}},
	{"LN", "老年医学科", []projectTemplate{
		{"LN001", "认知训练", "rehab", 3500, 30, 10, 20, false, false, true, true, "30", 2, "", "GERI-MMSE"},
		{"LN002", "防跌倒训练", "rehab", 3000, 30, 8, 12, false, false, true, true, "30", 2, "", "GERI-BBS"},
	}, [][2]string{{"F03", "痴呆"}, {"R26.8", "步态异常"}}},
}

var surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
var givenChars = []rune("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强玉兰红梅海燕小红晓明春梅文静欣怡子涵浩然宇轩梓涵一诺雨涵")
var titles = []string{"治疗师", "主管治疗师", "副主任治疗师", "主治医师", "副主任医师", "护师", "主管护师"}
