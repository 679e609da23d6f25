package policy

import (
	"slices"

	"github.com/zhiliao/zhiliao/model"
)

// Reach is how far a role's sight goes among the rows of the core and the
// warehouse.
type Reach int

const (
	// ReachSelf: the one patient of a link or a patient login.
	ReachSelf Reach = iota + 1
	// ReachDepartment: its own department when the account is bound to one
	// (and the patients that department treats), else its institution.
	ReachDepartment
	// ReachInstitution: every department of its institution.
	ReachInstitution
	// ReachRegion: every institution of a regional warehouse.
	ReachRegion
	// ReachAll: the system actor (generator, schedulers, command line).
	ReachAll
)

// Identity is how a role sees the patients within its reach.
type Identity int

const (
	// IdentityOwn: a patient sees only themself; the HIS interface reads no
	// patient back.
	IdentityOwn Identity = iota
	// IdentityMasked: names, phones, ID numbers and MRNs masked, free text
	// withheld (the evaluator, the regional office, the administrators).
	IdentityMasked
	// IdentityInScope: the identity of the patients of its scope where the
	// work needs it (drill-down rows, detail exports, the desk, the tablet).
	IdentityInScope
)

// Role is one row of the role table: what a login role reaches, how it sees
// patients, and whether it may change anything.
type Role struct {
	Name     string
	Title    string // in Chinese, as the pages show it
	Reach    Reach
	Identity Identity
	// Writes: the role may change lifecycle data (subject to the actions
	// table); the evaluator, the quality office and the regional office
	// only read.
	Writes bool
	// Administrator: one of the three separated administrator roles (三权分立:
	// system, security, audit), none of which may write clinical data.
	Administrator bool
}

// Roles is the role table. A role not in it reaches nothing and writes
// nothing.
var Roles = map[string]Role{
	model.RoleAdmin:         {model.RoleAdmin, "系统管理员", ReachInstitution, IdentityMasked, true, true},
	model.RoleSecurityAdmin: {model.RoleSecurityAdmin, "安全管理员", ReachInstitution, IdentityMasked, true, true},
	model.RoleAuditAdmin:    {model.RoleAuditAdmin, "安全审计员", ReachInstitution, IdentityMasked, true, true},
	model.RoleDeptManager:   {model.RoleDeptManager, "科室主任", ReachDepartment, IdentityInScope, true, false},
	model.RoleQualityOffice: {model.RoleQualityOffice, "质控科", ReachInstitution, IdentityInScope, false, false},
	model.RoleEvaluator:     {model.RoleEvaluator, "评审专家", ReachInstitution, IdentityMasked, false, false},
	model.RoleRegionOffice:  {model.RoleRegionOffice, "区域卫生管理", ReachRegion, IdentityMasked, false, false},
	model.RoleClinician:     {model.RoleClinician, "治疗师", ReachDepartment, IdentityInScope, true, false},
	model.RoleFrontDesk:     {model.RoleFrontDesk, "前台", ReachDepartment, IdentityInScope, true, false},
	model.RoleHIS:           {model.RoleHIS, "HIS 接口", ReachInstitution, IdentityOwn, true, false},
	model.RolePatient:       {model.RolePatient, "患者", ReachSelf, IdentityOwn, true, false},
	model.RoleSystem:        {model.RoleSystem, "系统", ReachAll, IdentityInScope, true, false},
}

// RoleOf is the actor's row of the role table (the zero Role, which
// reaches and writes nothing, for an unknown role).
func RoleOf(a model.Actor) Role { return Roles[a.Role] }

// Deidentified reports whether the actor sees patients de-identified.
func Deidentified(a model.Actor) bool { return RoleOf(a).Identity == IdentityMasked }

// SeesIdentity reports whether the actor sees the patients of its scope by
// name and MRN where its work needs them.
func SeesIdentity(a model.Actor) bool { return RoleOf(a).Identity == IdentityInScope }

// DeptBound reports whether the actor sees only its own department.
func DeptBound(a model.Actor) bool { return a.DeptID != 0 && RoleOf(a).Reach == ReachDepartment }

// Regional reports whether the actor sees every institution of the
// warehouse rather than its own.
func Regional(a model.Actor) bool { return RoleOf(a).Reach == ReachRegion }

// ReadOnly reports whether the actor may never change lifecycle data.
func ReadOnly(a model.Actor) bool { return !RoleOf(a).Writes }

// Administrator reports whether the actor holds one of the three
// administrator roles, which keep the system and never write clinical data.
func Administrator(a model.Actor) bool { return RoleOf(a).Administrator }

// Dept is a department as scope sees it.
type Dept struct{ ID, InstitutionID int64 }

// Departments are the departments of depts the actor may see: its own when
// it is bound to one, every department of a region for the regional
// office, else those of its institution.
func Departments(a model.Actor, depts []Dept) []int64 {
	if DeptBound(a) {
		return []int64{a.DeptID}
	}
	var out []int64
	for _, d := range depts {
		if InstitutionVisible(a, d.InstitutionID) {
			out = append(out, d.ID)
		}
	}
	return out
}

// InstitutionVisible reports whether the actor may see an institution's data.
func InstitutionVisible(a model.Actor, institutionID int64) bool {
	return Regional(a) || RoleOf(a).Reach == ReachAll || a.InstitutionID == 0 || a.InstitutionID == institutionID
}

// Row is where a row of the core belongs: its institution and department
// (0 where the row has none) and, when HasPatient, its patient (the patient
// row itself, or the patient its patient column names).
type Row struct {
	InstitutionID, DeptID, PatientID int64
	HasPatient                       bool
}

// CheckRow refuses a row outside the actor's scope: another institution's
// row as not found (its existence does not leak), another department's to a
// department-bound actor, another patient's to a patient.
func CheckRow(a model.Actor, r Row, label string, id int64) error {
	if RoleOf(a).Reach == ReachAll {
		return nil
	}
	if r.InstitutionID != 0 && r.InstitutionID != a.InstitutionID {
		return model.NotFound(label, id)
	}
	if DeptBound(a) && r.DeptID != 0 && r.DeptID != a.DeptID {
		return model.Errorf(model.EFORBIDDEN, "无权访问其他科室的数据 (%s of another department)", label)
	}
	if RoleOf(a).Reach == ReachSelf && r.HasPatient && r.PatientID != a.PatientID {
		return model.Errorf(model.EFORBIDDEN, "只能查看本人的信息 (another patient's data)")
	}
	return nil
}

// List is the scope of a list read in the core: the institution and, when
// not 0, the one department its rows must belong to.
type List struct{ InstitutionID, DeptID int64 }

// ListScope is the scope of a list the actor asks for, optionally of one
// department (0: all it may see). A department-bound actor's list is its own
// department's, and asking for another is refused.
func ListScope(a model.Actor, deptID int64) (List, error) {
	if DeptBound(a) {
		if deptID != 0 && deptID != a.DeptID {
			return List{}, model.Errorf(model.EFORBIDDEN, "无权访问其他科室的数据 (another department)")
		}
		deptID = a.DeptID
	}
	return List{InstitutionID: a.InstitutionID, DeptID: deptID}, nil
}

// PatientsOfDepartment reports whether the actor's right to a patient
// depends on its department treating them (an order, application or course
// there), which the core checks against its rows.
func PatientsOfDepartment(a model.Actor) bool { return DeptBound(a) }

// MartQuery is what a warehouse query asks for by way of scope: the
// institutions and departments filtered on (nil: not filtered).
type MartQuery struct {
	Institutions, Departments []int64
}

// MartDepartments is the department filter a warehouse query runs with for
// the actor: the departments asked for (those of the institutions asked for,
// intersected with the departments asked for), or every department it may
// see when it asked for none. Asking for a department or an institution
// outside its scope is forbidden, not silently emptied. depts are the
// warehouse's departments, institutions its institutions.
func MartDepartments(a model.Actor, depts []Dept, institutions []int64, q MartQuery) ([]int64, error) {
	allowed := Departments(a, depts)
	asked := q.Departments
	if q.Institutions != nil {
		of := []int64{}
		for _, id := range q.Institutions {
			n := 0
			for _, d := range depts {
				if d.InstitutionID == id && slices.Contains(allowed, d.ID) {
					of = append(of, d.ID)
					n++
				}
			}
			if n == 0 && !(slices.Contains(institutions, id) && InstitutionVisible(a, id)) {
				return nil, model.Errorf(model.EFORBIDDEN, "无权查看机构 %d 的数据 (institution %d is outside your scope)", id, id)
			}
		}
		if asked != nil {
			of = slices.DeleteFunc(of, func(id int64) bool { return !slices.Contains(asked, id) })
		}
		return of, nil
	}
	if asked == nil {
		if allowed == nil {
			allowed = []int64{}
		}
		return allowed, nil
	}
	for _, id := range asked {
		if !slices.Contains(allowed, id) {
			return nil, model.Errorf(model.EFORBIDDEN, "无权查看科室 %d 的数据 (department %d is outside your scope)", id, id)
		}
	}
	return asked, nil
}
