package policy_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

func code(err error) string {
	var e *model.Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return "other"
	}
	return ""
}

// TestRoleTable: every login role has a row with a Chinese title; the
// three administrators are de-identified and write no clinical data; the
// read-only roles write nothing; an unknown role reaches and writes nothing.
func TestRoleTable(t *testing.T) {
	for _, r := range []string{model.RoleAdmin, model.RoleSecurityAdmin, model.RoleAuditAdmin, model.RoleDeptManager, model.RoleQualityOffice,
		model.RoleEvaluator, model.RoleRegionOffice, model.RoleClinician, model.RoleFrontDesk, model.RoleHIS, model.RolePatient, model.RoleSystem} {
		row, ok := policy.Roles[r]
		if !ok || row.Name != r || row.Title == "" || row.Reach == 0 {
			t.Errorf("role %s: %+v", r, row)
		}
		a := model.Actor{Role: r, InstitutionID: 1}
		if row.Administrator && (!policy.Deidentified(a) || !policy.Administrator(a)) {
			t.Errorf("administrator %s sees identity", r)
		}
		if policy.Deidentified(a) && policy.SeesIdentity(a) {
			t.Errorf("%s both masked and not", r)
		}
	}
	for _, r := range []string{model.RoleEvaluator, model.RoleQualityOffice, model.RoleRegionOffice} {
		if !policy.ReadOnly(model.Actor{Role: r}) {
			t.Errorf("%s may write", r)
		}
	}
	stranger := model.Actor{Role: "visitor", InstitutionID: 1, DeptID: 2}
	if !policy.ReadOnly(stranger) || policy.SeesIdentity(stranger) || policy.DeptBound(stranger) ||
		code(policy.CheckRow(stranger, policy.Row{InstitutionID: 2}, "患者", 1)) != model.ENOTFOUND {
		t.Error("an unknown role reaches something")
	}
}

// TestCheckRow: each reach against rows of its own and of others.
func TestCheckRow(t *testing.T) {
	mgr := model.Actor{Role: model.RoleDeptManager, InstitutionID: 1, DeptID: 10}
	qo := model.Actor{Role: model.RoleQualityOffice, InstitutionID: 1}
	pat := model.Actor{Role: model.RolePatient, InstitutionID: 1, PatientID: 7}
	sys := model.Actor{Role: model.RoleSystem}
	unbound := model.Actor{Role: model.RoleClinician, InstitutionID: 1} // no department: its institution
	for _, c := range []struct {
		name string
		a    model.Actor
		row  policy.Row
		want string
	}{
		{"own department", mgr, policy.Row{InstitutionID: 1, DeptID: 10}, ""},
		{"another department", mgr, policy.Row{InstitutionID: 1, DeptID: 11}, model.EFORBIDDEN},
		{"a row of no department", mgr, policy.Row{InstitutionID: 1}, ""},
		{"another institution, as not found", mgr, policy.Row{InstitutionID: 2, DeptID: 10}, model.ENOTFOUND},
		{"institution-wide", qo, policy.Row{InstitutionID: 1, DeptID: 11}, ""},
		{"institution-wide, another institution", qo, policy.Row{InstitutionID: 2}, model.ENOTFOUND},
		{"a patient's own row", pat, policy.Row{InstitutionID: 1, PatientID: 7, HasPatient: true}, ""},
		{"another patient's row", pat, policy.Row{InstitutionID: 1, PatientID: 8, HasPatient: true}, model.EFORBIDDEN},
		{"a row with an empty patient column", pat, policy.Row{InstitutionID: 1, HasPatient: true}, model.EFORBIDDEN},
		{"a row about no patient", pat, policy.Row{InstitutionID: 1, DeptID: 3}, ""},
		{"the system actor", sys, policy.Row{InstitutionID: 9, DeptID: 9, PatientID: 9, HasPatient: true}, ""},
		{"a clinician bound to no department", unbound, policy.Row{InstitutionID: 1, DeptID: 11}, ""},
	} {
		if got := code(policy.CheckRow(c.a, c.row, "治疗", 1)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestListScope: a department-bound list is its department's; asking for
// another is refused; others list what they ask for in their institution.
func TestListScope(t *testing.T) {
	mgr := model.Actor{Role: model.RoleFrontDesk, InstitutionID: 1, DeptID: 10}
	if l, err := policy.ListScope(mgr, 0); err != nil || l != (policy.List{InstitutionID: 1, DeptID: 10}) {
		t.Errorf("bound, no department asked: %+v %v", l, err)
	}
	if _, err := policy.ListScope(mgr, 11); code(err) != model.EFORBIDDEN {
		t.Errorf("bound, another department: %v", err)
	}
	qo := model.Actor{Role: model.RoleQualityOffice, InstitutionID: 1}
	if l, err := policy.ListScope(qo, 11); err != nil || l != (policy.List{InstitutionID: 1, DeptID: 11}) {
		t.Errorf("institution-wide: %+v %v", l, err)
	}
}

// TestMartDepartments: the department filter of a warehouse query for each
// reach, and the refusals.
func TestMartDepartments(t *testing.T) {
	depts := []policy.Dept{{1, 100}, {2, 100}, {3, 200}, {4, 200}}
	insts := []int64{100, 200, 300} // 300 has no department yet
	mgr := model.Actor{Role: model.RoleDeptManager, InstitutionID: 100, DeptID: 2}
	qo := model.Actor{Role: model.RoleQualityOffice, InstitutionID: 100}
	region := model.Actor{Role: model.RoleRegionOffice, InstitutionID: 100}
	for _, c := range []struct {
		name string
		a    model.Actor
		q    policy.MartQuery
		want []int64
		err  string
	}{
		{"manager, nothing asked", mgr, policy.MartQuery{}, []int64{2}, ""},
		{"manager, own", mgr, policy.MartQuery{Departments: []int64{2}}, []int64{2}, ""},
		{"manager, another", mgr, policy.MartQuery{Departments: []int64{1}}, nil, model.EFORBIDDEN},
		{"manager, own institution", mgr, policy.MartQuery{Institutions: []int64{100}}, []int64{2}, ""},
		{"quality office, nothing asked", qo, policy.MartQuery{}, []int64{1, 2}, ""},
		{"quality office, another institution", qo, policy.MartQuery{Institutions: []int64{200}}, nil, model.EFORBIDDEN},
		{"quality office, another institution's department", qo, policy.MartQuery{Departments: []int64{3}}, nil, model.EFORBIDDEN},
		{"region, nothing asked", region, policy.MartQuery{}, []int64{1, 2, 3, 4}, ""},
		{"region, one institution", region, policy.MartQuery{Institutions: []int64{200}}, []int64{3, 4}, ""},
		{"region, institution and department", region, policy.MartQuery{Institutions: []int64{200}, Departments: []int64{4, 1}}, []int64{4}, ""},
		{"region, an institution with no department", region, policy.MartQuery{Institutions: []int64{300}}, []int64{}, ""},
		{"region, an unknown institution", region, policy.MartQuery{Institutions: []int64{999}}, nil, model.EFORBIDDEN},
	} {
		got, err := policy.MartDepartments(c.a, depts, insts, c.q)
		if code(err) != c.err || !slices.Equal(got, c.want) || (c.err == "" && got == nil) {
			t.Errorf("%s: %v %v, want %v %q", c.name, got, err, c.want, c.err)
		}
	}
}
