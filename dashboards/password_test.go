package dashboards_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zhiliao/zhiliao/api"
	"github.com/zhiliao/zhiliao/dashboards"
	"github.com/zhiliao/zhiliao/internal/testmarts"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

// TestResetPasswordMustBeChanged: after a security administrator's reset,
// every dashboard page sends the user to the password form; a form whose
// two new passwords differ, or that breaks the policy, is refused with a
// message; a good change opens the dashboards.
func TestResetPasswordMustBeChanged(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "core.db"), store.Options{Logger: testmarts.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inst := &model.Institution{Code: "H001", Name: "示例医院"}
	if err := db.CreateInstitution(ctx, inst); err != nil {
		t.Fatal(err)
	}
	u := &model.User{InstitutionID: inst.ID, Username: "zhikong", Role: model.RoleQualityOffice}
	if err := db.CreateUser(ctx, u, "Quality-2026"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ResetPassword(ctx, u.ID, "Temporary-2026"); err != nil { // the command line acts as the security administrator
		t.Fatal(err)
	}
	s := api.NewServer(db, testmarts.Quiet)
	s.Pages = dashboards.New(db, testmarts.Quiet)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	post := func(path string, form url.Values) (*http.Response, string) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", srv.URL)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, _ := post("/dash/login", url.Values{"username": {"zhikong"}, "password": {"Temporary-2026"}, "next": {"/dash/quality"}})
	if resp.Request.URL.Path != "/dash/password" {
		t.Fatalf("after login with a reset password: at %s, want the password form", resp.Request.URL.Path)
	}
	resp, body := post("/dash/password", url.Values{"current": {"Temporary-2026"}, "new": {"Own-choice-2026"}, "confirm": {"Own-choice-2027"}})
	if resp.StatusCode != 400 || !strings.Contains(body, "不一致") {
		t.Fatalf("mismatched new passwords: %d", resp.StatusCode)
	}
	resp, body = post("/dash/password", url.Values{"current": {"Temporary-2026"}, "new": {"short"}, "confirm": {"short"}})
	if resp.StatusCode != 400 || !strings.Contains(body, "密码须为") {
		t.Fatalf("a short password: %d", resp.StatusCode)
	}
	resp, body = post("/dash/password", url.Values{"current": {"Temporary-2026"}, "new": {"Own-choice-2026"}, "confirm": {"Own-choice-2026"}})
	if resp.Request.URL.Path != "/dash/" || resp.StatusCode != 200 {
		t.Fatalf("after the change: %d at %s: %s", resp.StatusCode, resp.Request.URL.Path, body)
	}
	if _, _, _, err := db.Login(ctx, "zhikong", "Own-choice-2026"); err != nil {
		t.Fatalf("the new password does not log in: %v", err)
	}
}
