// Package policy decides who may see and do what (DESIGN.md §7), once for
// every door: the API's router and OpenAPI document, the role × route test,
// the dashboards and front-line pages, and the interfaces to come (shared
// documents, FHIR, Flight SQL, explore). It owns the one table of actions
// and the roles that may perform each (here), the role table of reach and
// identity with a row's and a list's scope in the core and a warehouse
// query's department filter (scope.go), the masks as warehouse SQL
// (sql.go) and the audit line of a read (audit.go). It imports model only,
// so any package may ask it; no door names a role (a test checks).
package policy

import (
	"slices"

	"github.com/zhiliao/zhiliao/model"
)

// Action is something a principal may do, with the roles that may do it.
// The zero Action is public (no session needed).
type Action struct {
	Name  string   // stable identifier, e.g. "desk.book"
	Title string   // what it permits, in Chinese
	Roles []string // who may
}

// Allows reports whether the actor's role may perform the action.
func (a Action) Allows(actor model.Actor) bool { return slices.Contains(a.Roles, actor.Role) }

// Public reports whether the action needs no session.
func (a Action) Public() bool { return a.Roles == nil }

func roles(r ...string) []string { return r }

// The actions. Several doors may share one: the front desk's day is the
// same permission on the API, the desk page and the waiting-room board.
var (
	Anyone = Action{"session.any", "任何已登录账号（含患者链接）", roles(model.RoleAdmin, model.RoleSecurityAdmin, model.RoleAuditAdmin,
		model.RoleDeptManager, model.RoleQualityOffice, model.RoleEvaluator, model.RoleClinician, model.RoleFrontDesk, model.RoleHIS, model.RolePatient)}
	StaffAccount = Action{"account.own", "本人账号（修改密码）", roles(model.RoleAdmin, model.RoleSecurityAdmin, model.RoleAuditAdmin,
		model.RoleDeptManager, model.RoleQualityOffice, model.RoleEvaluator, model.RoleClinician, model.RoleFrontDesk, model.RoleHIS)}
	SystemAdmin   = Action{"admin.system", "系统管理（账号、字典；不碰临床数据）", roles(model.RoleAdmin)}
	SecurityAdmin = Action{"admin.security", "安全管理（角色、解锁、重置密码）", roles(model.RoleSecurityAdmin)}
	ListAccounts  = Action{"admin.accounts", "查看账号列表", roles(model.RoleAdmin, model.RoleSecurityAdmin)}
	ReadAudit     = Action{"admin.audit", "查看审计日志", roles(model.RoleAuditAdmin)}
	HISInterface  = Action{"his.orders", "HIS 接口（医嘱与缴费）", roles(model.RoleHIS)}

	Treat         = Action{"clinical.treat", "治疗操作（评估、知情同意、执行、记录）", roles(model.RoleClinician)}
	ManageCourse  = Action{"clinical.course", "疗程与记录管理（治疗师、科室主任）", roles(model.RoleClinician, model.RoleDeptManager)}
	Book          = Action{"desk.book", "预约、签到、叫号（前台、治疗师）", roles(model.RoleFrontDesk, model.RoleClinician)}
	BookOrSelf    = Action{"desk.book_or_self", "预约、取消、改约（前台、治疗师与患者本人）", roles(model.RoleFrontDesk, model.RoleClinician, model.RolePatient)}
	WorkTheDay    = Action{"desk.day", "科室当日工作（前台工作台、候诊大屏、队列）", roles(model.RoleFrontDesk, model.RoleClinician, model.RoleDeptManager)}
	FindSlots     = Action{"desk.slots", "查看号源", roles(model.RoleFrontDesk, model.RoleClinician, model.RoleDeptManager, model.RolePatient)}
	Manage        = Action{"dept.manage", "科室管理（排班、停诊、投诉回复、知情同意书文本）", roles(model.RoleDeptManager)}
	FileComplaint = Action{"feedback.complain", "登记投诉（前台代登记与患者本人）", roles(model.RoleFrontDesk, model.RolePatient)}
	PatientSelf   = Action{"patient.self", "患者本人（凭链接或患者登录）", roles(model.RolePatient)}

	ReadArchive          = Action{"record.archive", "查看患者治疗档案（评审专家为脱敏）", roles(model.RoleClinician, model.RoleDeptManager, model.RoleQualityOffice, model.RoleEvaluator)}
	ReadConsentText      = Action{"record.consent_text", "查看已签知情同意书全文", roles(model.RoleClinician, model.RoleDeptManager, model.RoleQualityOffice, model.RoleEvaluator, model.RolePatient)}
	ReadConsentTemplates = Action{"consent.templates", "查看知情同意书文本", roles(model.RoleFrontDesk, model.RoleClinician, model.RoleDeptManager, model.RoleQualityOffice)}
	KeepConsentTexts     = Action{"consent.keep", "知情同意书文本维护页（科室主任编辑，质控科查看）", roles(model.RoleDeptManager, model.RoleQualityOffice)}

	ReadDocuments        = Action{"document.read", "查询与调阅共享文档（治疗记录、知情同意书；评审专家为脱敏，患者仅本人）", roles(model.RoleClinician, model.RoleDeptManager, model.RoleQualityOffice, model.RoleEvaluator, model.RoleFrontDesk, model.RolePatient)}
	ReadDocumentFailures = Action{"document.failures", "查看未能生成共享文档的记录及缺失字段", roles(model.RoleDeptManager, model.RoleQualityOffice)}

	ReadFHIR    = Action{"fhir.read", "FHIR R4 读取与检索（与 API 相同的科室与患者范围；评审专家为脱敏）", roles(model.RoleClinician, model.RoleDeptManager, model.RoleQualityOffice, model.RoleEvaluator, model.RoleRegionOffice, model.RoleFrontDesk, model.RolePatient)}
	BulkExport  = Action{"fhir.bulk", "FHIR 批量导出（全院或科室；评审专家为脱敏）", roles(model.RoleQualityOffice, model.RoleRegionOffice, model.RoleEvaluator)}
	Integration = Action{"interop.messages", "接口消息（HL7 收发记录、死信与重发；患者信息脱敏）", roles(model.RoleAdmin)}

	ReadMarts  = Action{"analytics.read", "分析看板、数据集市与报表导出", roles(model.RoleAdmin, model.RoleQualityOffice, model.RoleDeptManager, model.RoleEvaluator, model.RoleRegionOffice)}
	OperateETL = Action{"analytics.operate", "ETL 运行、定时报表与运维", roles(model.RoleAdmin, model.RoleQualityOffice)}
)

// Actions is the table: every action, in the order the docs list them.
var Actions = []Action{Anyone, StaffAccount, SystemAdmin, SecurityAdmin, ListAccounts, ReadAudit, HISInterface,
	Treat, ManageCourse, Book, BookOrSelf, WorkTheDay, FindSlots, Manage, FileComplaint, PatientSelf,
	ReadArchive, ReadConsentText, ReadConsentTemplates, KeepConsentTexts, ReadDocuments, ReadDocumentFailures, ReadFHIR, BulkExport, Integration, ReadMarts, OperateETL}
