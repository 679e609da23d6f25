package storetest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/gen/cashier"
	"github.com/zhiliao/zhiliao/internal/testclock"
	"github.com/zhiliao/zhiliao/internal/testpg"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

// env is one hospital in a fresh core database.
type env struct {
	t     testing.TB
	db    *store.DB
	his   *cashier.Simulator
	clock *testclock.Clock
	ctx   context.Context

	inst      *model.Institution
	dept      *model.Department
	otherDept *model.Department
	staff     *model.Staff
	room      *model.Room
	plain     *model.Project // no consent, no images
	laser     *model.Project // consent and images
	// consentText is the laser project's consent text in force.
	consentText *model.ConsentTemplate
	n           int
}

// day0 is a Monday, 07:30 local time.
var day0 = time.Date(2026, 3, 2, 7, 30, 0, 0, model.Local)

// Core is an engine under test: how to get the location of a fresh, empty
// core on it.
type Core struct {
	Engine string // "sqlite" or "postgres"
	Fresh  func(tb testing.TB) string
}

// SQLite is a fresh SQLite file in the test's temp dir.
func SQLite() Core {
	return Core{Engine: "sqlite", Fresh: func(tb testing.TB) string { return filepath.Join(tb.TempDir(), "core.db") }}
}

// Postgres is a fresh database on the PostgreSQL server the tests were
// given (ZHILIAO_TEST_POSTGRES; skipped locally without one, required in CI).
func Postgres() Core {
	return Core{Engine: "postgres", Fresh: func(tb testing.TB) string { return testpg.Core(tb) }}
}

// The engine this test binary runs the contract on. One binary runs Run once
// (store/sqlite's tests, or store/postgres's), so these are set before any
// test of the suite starts and never change after.
var (
	current    Core
	onPostgres bool
	top        string // the name of the test that called Run, for child processes
)

// Run runs every service test of the store on core, each as a subtest: one
// contract for both engines, as warehousetest is for the warehouses.
func Run(t *testing.T, core Core) {
	if top != "" && top != t.Name() {
		t.Fatalf("storetest.Run is called once per test binary (by %s already)", top)
	}
	current, onPostgres, top = core, core.Engine == "postgres", t.Name()
	for _, c := range suite {
		t.Run(c.name, c.fn)
	}
}

// childRun is the -test.run pattern of one subtest of the suite, for a test
// that runs another as a child process.
func childRun(name string) string { return "-test.run=^" + top + "$/^" + name + "$" }

// sqliteOnly skips a test of something only the SQLite engine has.
func sqliteOnly(tb testing.TB, why string) {
	if onPostgres {
		tb.Skip("SQLite only: " + why)
	}
}

func mustOpenDB(tb testing.TB) *store.DB { return openDBOn(tb, onPostgres) }

// suite is every test of the contract, in the order they run.
var suite = []struct {
	name string
	fn   func(t *testing.T)
}{
	{"AuditLogDays", testAuditLogDays},
	{"SlotCapacityUnderConcurrency", testSlotCapacityUnderConcurrency},
	{"DoubleCheckInAndExecution", testDoubleCheckInAndExecution},
	{"UnplannedAppointmentDefect", testUnplannedAppointmentDefect},
	{"HISIntakeIdempotentAndValidated", testHISIntakeIdempotentAndValidated},
	{"CatalogValidation", testCatalogValidation},
	{"SetProjectScope", testSetProjectScope},
	{"LeaderTakesOverAfterKill", testLeaderTakesOverAfterKill},
	{"LeaderChild", testLeaderChild},
	{"ConnectionLostMidTransaction", testConnectionLostMidTransaction},
	{"LifecycleWalk", testLifecycleWalk},
	{"IllegalTransitions", testIllegalTransitions},
	{"PaymentRecheckRefusal", testPaymentRecheckRefusal},
	{"NamespacePlacesIDsAndSeqs", testNamespacePlacesIDsAndSeqs},
	{"OutboxAtomicity", testOutboxAtomicity},
	{"BatchSavepoints", testBatchSavepoints},
	{"OutboxOrderAndVersions", testOutboxOrderAndVersions},
	{"SchemaMatchesModel", testSchemaMatchesModel},
	{"OutOfDateSchemaRefused", testOutOfDateSchemaRefused},
	{"AppendOnlyHistory", testAppendOnlyHistory},
	{"StopRosterNotifiesAndCancels", testStopRosterNotifiesAndCancels},
	{"NoShowBlacklist", testNoShowBlacklist},
	{"CloseOut", testCloseOut},
	{"CloseOutByDepartment", testCloseOutByDepartment},
	{"SurveyStatePerVisit", testSurveyStatePerVisit},
	{"ComplaintFormAfterTreatment", testComplaintFormAfterTreatment},
	{"ConsentTemplates", testConsentTemplates},
	{"DeskSearch", testDeskSearch},
	{"ExternalSigners", testExternalSigners},
	{"RemindersOncePerAppointment", testRemindersOncePerAppointment},
	{"AbortAndRevokedConsent", testAbortAndRevokedConsent},
	{"SealedFields", testSealedFields},
	{"SealInPlace", testSealInPlace},
	{"RecordSignatures", testRecordSignatures},
	{"AuditChain", testAuditChain},
	{"ReencryptChild", testReencryptChild},
	{"ReencryptSurvivesKill", testReencryptSurvivesKill},
	{"OldPayloadsScrubbed", testOldPayloadsScrubbed},
	{"AuditChainConcurrent", testAuditChainConcurrent},
	{"FollowupsDueByDepartment", testFollowupsDueByDepartment},
	{"HL7Feed", testHL7Feed},
}

// openDBOn opens a fresh core on PostgreSQL (pg) or SQLite: the benchmarks
// measure both side by side in one run.
func openDBOn(tb testing.TB, pg bool) *store.DB {
	tb.Helper()
	where := filepath.Join(tb.TempDir(), "core.db")
	if pg {
		where = testpg.Core(tb)
	}
	db, err := store.Open(context.Background(), where, store.Options{FilesDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func newEnv(tb testing.TB) *env { return newEnvOn(tb, onPostgres) }

func newEnvOn(tb testing.TB, pg bool) *env {
	tb.Helper()
	return envOf(tb, openDBOn(tb, pg))
}

// coreLocation is a fresh core's location on this run's engine.
func coreLocation(tb testing.TB) string { return current.Fresh(tb) }

// reopenEnv opens the core at where and sets the hospital up in it.
func reopenEnv(tb testing.TB, where string) *env {
	tb.Helper()
	db, err := store.Open(context.Background(), where, store.Options{FilesDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return envOf(tb, db)
}

// envOf sets one hospital up in db.
func envOf(tb testing.TB, db *store.DB) *env {
	tb.Helper()
	e := &env{t: tb, db: db, clock: testclock.New(day0), ctx: context.Background()}
	e.db.Now = e.clock.Now
	e.his = &cashier.Simulator{Status: e.db.OrderPaymentStatus}
	e.db.HIS = e.his
	e.inst = &model.Institution{Code: "H001", Name: "示例市第一人民医院", Level: "三级甲等"}
	e.must(e.db.CreateInstitution(e.ctx, e.inst))
	e.dept = &model.Department{Code: "KF", Name: "康复医学科"}
	e.dept.InstitutionID = e.inst.ID
	e.must(e.db.CreateDepartment(e.ctx, e.dept))
	e.otherDept = &model.Department{Code: "PF", Name: "皮肤科"}
	e.otherDept.InstitutionID = e.inst.ID
	e.must(e.db.CreateDepartment(e.ctx, e.otherDept))
	e.staff = &model.Staff{DeptID: e.dept.ID, Code: "T001", Name: "李治疗", Role: model.StaffTherapist, Active: true}
	e.staff.InstitutionID = e.inst.ID
	e.must(e.db.CreateStaff(e.ctx, e.staff))
	e.room = &model.Room{DeptID: e.dept.ID, Code: "R1", Name: "治疗一室", Beds: 4}
	e.room.InstitutionID = e.inst.ID
	e.must(e.db.CreateRoom(e.ctx, e.room))
	e.plain = &model.Project{DeptID: e.dept.ID, Code: "KF001", Name: "运动疗法", Category: "rehab", UnitPriceFen: 4500,
		Minutes: 30, CourseSessions: 10, EMRScope: true, SmartScope: true, FollowupDays: "1,7,30", AssessmentTemplate: "REHAB-A",
		Precautions: "穿宽松衣物", Active: true}
	e.plain.InstitutionID = e.inst.ID
	e.must(e.db.CreateProject(e.ctx, e.plain))
	e.laser = &model.Project{DeptID: e.dept.ID, Code: "KF009", Name: "激光治疗", Category: "laser", UnitPriceFen: 28000,
		Minutes: 20, CourseSessions: 5, NeedsConsent: true, NeedsImages: true, EMRScope: false, SmartScope: true,
		FollowupDays: "7", AssessmentTemplate: "LASER-A", Active: true}
	e.laser.InstitutionID = e.inst.ID
	e.must(e.db.CreateProject(e.ctx, e.laser))
	var err error
	e.consentText, err = e.db.SaveConsentTemplate(e.ctx, model.NewConsentTemplate{ProjectID: e.laser.ID, Title: "知情同意书（激光治疗）",
		Body: "一、治疗目的与方法：激光作用于皮肤靶组织。二、可能的风险：红斑、水肿、水疱、色素沉着，极少数遗留瘢痕。三、须知：治疗后严格防晒。我已阅读并理解全部内容，自愿接受治疗。"})
	e.must(err)
	return e
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// order sends a new HIS order (paid or not) for a fresh patient.
func (e *env) order(p *model.Project, qty int64, paid bool) *model.Order {
	e.t.Helper()
	e.n++
	o, err := e.db.ReceiveOrder(e.ctx, model.OrderMessage{InstitutionID: e.inst.ID, MessageID: fmt.Sprintf("M%d", e.n), Action: model.HISNew,
		OrderNo: fmt.Sprintf("O%05d", e.n), PatientMRN: fmt.Sprintf("P%05d", e.n), PatientName: "王小明", Gender: "M",
		ProjectCode: p.Code, Quantity: qty, VisitType: model.VisitOutpatient, DiagnosisCode: "M54.5", DiagnosisName: "腰痛",
		OrderedAt: e.clock.Now(), Paid: paid})
	e.must(err)
	return o
}

// course takes a paid order through application, assessment and plan.
func (e *env) course(p *model.Project, qty int64) (*model.Course, *model.Order) {
	e.t.Helper()
	o := e.order(p, qty, true)
	app, err := e.db.CreateApplication(e.ctx, model.NewApplication{OrderIDs: []int64{o.ID}, AppliedBy: e.staff.ID})
	e.must(err)
	_, err = e.db.AddAssessment(e.ctx, model.NewAssessment{ApplicationID: app.ID, Kind: "initial", Answers: map[string]string{"pain": "6"},
		Score: 60, AssessorID: e.staff.ID, Sign: true})
	e.must(err)
	c, err := e.db.PlanCourse(e.ctx, app.ID, e.staff.ID)
	e.must(err)
	return c, o
}

// slots rosters the therapist today 08:00–11:00 in 30-minute slots.
func (e *env) slots(capacity int64) []*model.Slot {
	e.t.Helper()
	_, slots, err := e.db.CreateRoster(e.ctx, model.NewRoster{DeptID: e.dept.ID, StaffID: e.staff.ID, RoomID: e.room.ID,
		Day: model.DayOf(e.clock.Now()), Shift: "am", Start: "08:00", End: "11:00", SlotMinutes: 30, Capacity: capacity})
	e.must(err)
	return slots
}

func wantRule(t testing.TB, err error, rule string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want conflict %s, got nil", rule)
	}
	if model.ErrorCode(err) != model.ECONFLICT || model.ErrorRule(err) != rule {
		t.Fatalf("want conflict rule %s, got %v", rule, err)
	}
}

var signature = []byte("\x89PNG\r\n\x1a\nfake-signature-image-bytes")

// snapshot summarises everything a write could change: outbox, history and
// the version sum of every entity table.
type snapshot struct {
	outbox, maxSeq, history, versions int64
}

func (e *env) snapshot() snapshot {
	e.t.Helper()
	var s snapshot
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM cdc_outbox").Scan(&s.outbox, &s.maxSeq))
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(*) FROM status_history").Scan(&s.history))
	for _, tb := range entityTables {
		var v int64
		e.must(e.db.QueryRowContext(e.ctx, "SELECT COALESCE(SUM(version), 0) + COUNT(*) FROM "+tb).Scan(&v))
		s.versions += v
	}
	return s
}

var entityTables = []string{"institution", "department", "staff", "room", "project", "patient", "his_order", "application",
	"assessment", "course", "roster", "slot", "appointment", "queue_ticket", "payment_check", "image", "consent",
	"treatment_session", "treatment_record", "followup", "survey", "complaint", "notification"}
