package model

// NoticeLevel is a level of notices a patient may receive (消息级别): the
// important ones (critical: the booking confirmation, 停诊 and changes)
// always go out; each other level may be opted out of on the patient page.
type NoticeLevel struct {
	Level     string `json:"level"`
	Label     string `json:"label"`
	Mandatory bool   `json:"mandatory"`
}

// NoticeLevelCritical is the level of every critical notice.
const NoticeLevelCritical = "critical"

// NoticeLevels in the order the patient page shows them. A non-critical
// notice's level is its kind.
var NoticeLevels = []NoticeLevel{
	{Level: NoticeLevelCritical, Label: "重要通知（预约确认、停诊与变更）", Mandatory: true},
	{Level: NotifyReminder, Label: "就诊提醒"},
	{Level: NotifyPrecautions, Label: "治疗注意事项"},
	{Level: NotifyFollowup, Label: "随访与满意度问卷"},
}

// NoticePref is a patient's choice for one level.
type NoticePref struct {
	NoticeLevel
	OptedOut bool `json:"opted_out"`
}

// LevelOf is the level a notice belongs to.
func LevelOf(n *Notification) string {
	if n.Critical {
		return NoticeLevelCritical
	}
	return n.Kind
}
