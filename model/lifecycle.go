package model

import (
	"fmt"
	"sort"
)

// Transitions lists, per stateful entity, every legal status change and the
// name of the action that makes it. Anything not listed is refused with a
// conflict naming the rule "<entity>.<from>-><to>"; this table is the single
// source the store and the tests read.
var Transitions = map[string]map[string]map[string]string{
	"order": {
		OrderUnpaid: {OrderPaid: "pay", OrderCancelled: "cancel"},
		OrderPaid:   {OrderRefunded: "refund"},
	},
	"application": {
		AppSubmitted: {AppAssessed: "assess", AppCancelled: "cancel"},
		AppAssessed:  {AppPlanned: "plan", AppCancelled: "cancel"},
		AppPlanned:   {AppCompleted: "complete", AppCancelled: "cancel"},
	},
	"assessment": {
		AssessmentDraft: {AssessmentSigned: "sign"},
	},
	"course": {
		CourseActive:    {CourseCompleted: "complete", CourseCancelled: "cancel"},
		CourseCompleted: {CourseArchived: "archive"},
		CourseCancelled: {CourseArchived: "archive"},
	},
	"roster": {
		RosterOpen:    {RosterStopped: "stop"},
		RosterStopped: {RosterOpen: "reopen"},
	},
	"slot": {
		SlotOpen:   {SlotClosed: "close"},
		SlotClosed: {SlotOpen: "reopen"},
	},
	"appointment": {
		ApptBooked:    {ApptCheckedIn: "checkin", ApptCancelled: "cancel", ApptNoShow: "no_show"},
		ApptCheckedIn: {ApptCompleted: "complete", ApptCancelled: "cancel"},
	},
	"queue_ticket": {
		TicketWaiting:     {TicketCalled: "call", TicketInTreatment: "start", TicketLeft: "leave"},
		TicketCalled:      {TicketInTreatment: "start", TicketWaiting: "requeue", TicketLeft: "leave"},
		TicketInTreatment: {TicketDone: "finish", TicketWaiting: "requeue"},
	},
	"consent": {
		ConsentPending: {ConsentSigned: "sign", ConsentRevoked: "revoke"},
		ConsentSigned:  {ConsentRevoked: "revoke"},
	},
	"session": {
		SessionInProgress: {SessionCompleted: "complete", SessionAborted: "abort"},
	},
	"record": {
		RecordDraft:  {RecordSigned: "sign"},
		RecordSigned: {RecordDraft: "amend", RecordArchived: "archive"},
	},
	"followup": {
		FollowupPending: {FollowupDone: "complete", FollowupMissed: "miss", FollowupCancelled: "cancel"},
		FollowupMissed:  {FollowupDone: "complete"},
	},
	"survey": {
		SurveySent: {SurveyAnswered: "answer", SurveyExpired: "expire"},
	},
	"complaint": {
		ComplaintOpen:    {ComplaintReplied: "reply", ComplaintClosed: "close"},
		ComplaintReplied: {ComplaintClosed: "close"},
	},
	"notification": {
		NotifyQueued: {NotifySent: "send", NotifyFailed: "fail", NotifyDead: "give_up", NotifyWithheld: "opt_out"},
		NotifyFailed: {NotifyQueued: "retry", NotifySent: "send", NotifyDead: "give_up"},
		NotifyDead:   {NotifyQueued: "retry"},
	},
}

// InitialStatus is the status every new row of a stateful entity starts in.
var InitialStatus = map[string]string{
	"order":        OrderUnpaid,
	"application":  AppSubmitted,
	"assessment":   AssessmentDraft,
	"course":       CourseActive,
	"roster":       RosterOpen,
	"slot":         SlotOpen,
	"appointment":  ApptBooked,
	"queue_ticket": TicketWaiting,
	"consent":      ConsentPending,
	"session":      SessionInProgress,
	"record":       RecordDraft,
	"followup":     FollowupPending,
	"survey":       SurveySent,
	"complaint":    ComplaintOpen,
	"notification": NotifyQueued,
}

// entityLabel gives the Chinese name used in messages.
var entityLabel = map[string]string{
	"order": "医嘱", "application": "治疗申请", "assessment": "评估", "course": "疗程",
	"roster": "排班", "slot": "号源", "appointment": "预约", "queue_ticket": "排队号",
	"consent": "知情同意书", "consent_template": "知情同意书模板", "session": "治疗执行", "record": "治疗记录", "followup": "随访任务",
	"survey": "满意度调查", "complaint": "投诉", "notification": "通知",
}

// EntityLabel returns the Chinese name of an entity for user-facing messages.
func EntityLabel(entity string) string {
	if l, ok := entityLabel[entity]; ok {
		return l
	}
	return entity
}

// CheckTransition returns nil when entity may go from one status to another,
// and otherwise a conflict naming the rule. Orders have payment-specific rule
// names because "not paid" is the rule people look for.
func CheckTransition(entity, from, to string) error {
	if _, ok := Transitions[entity][from][to]; ok {
		return nil
	}
	rule := fmt.Sprintf("%s.%s->%s", entity, from, to)
	if entity == "record" && from == RecordArchived {
		rule = "record.archived_immutable"
		return Conflict(rule, "治疗记录已归档，不能修改 (archived records are locked)")
	}
	return Conflict(rule, "%s当前状态为 %s，不能变为 %s (illegal transition %s)", EntityLabel(entity), from, to, rule)
}

// Statuses returns every status an entity can be in, sorted.
func Statuses(entity string) []string {
	set := map[string]bool{InitialStatus[entity]: true}
	for from, tos := range Transitions[entity] {
		set[from] = true
		for to := range tos {
			set[to] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
