package api

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/zhiliao/zhiliao/model"
)

// FuzzDecodeWriteRoutes decodes arbitrary bytes as the body of every write
// route of the table: decoding never panics, and every refusal is a 4xx
// domain error (invalid or too_large) that names a field.
func FuzzDecodeWriteRoutes(f *testing.F) {
	s := NewServer(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var bodies []reflect.Type
	for _, rt := range s.routes() {
		if rt.Method == "POST" && rt.Body != nil {
			bodies = append(bodies, reflect.TypeOf(rt.Body))
		}
	}
	if len(bodies) < 15 {
		f.Fatalf("only %d write bodies in the route table", len(bodies))
	}
	for _, seed := range []string{`{}`, `{"order_ids":[1,2]}`, `{"signer_id":7}`, `{"scores":{"a":5},"comment":"好"}`, `[]`, `null`, `{"a":1} {}`,
		`{"units":1e400}`, `{"reason":"\ud800"}`, `{"patient_name":"王\u0000五"}`} {
		f.Add([]byte(seed), uint8(0))
	}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		typ := bodies[int(which)%len(bodies)]
		v := reflect.New(typ).Interface()
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		err := decode(httptest.NewRecorder(), r, v)
		if err == nil {
			return
		}
		var e *model.Error
		if !errors.As(err, &e) || (e.Code != model.EINVALID && e.Code != model.ETOOLARGE) || e.Field == "" || e.Message == "" {
			t.Fatalf("%s: %q → %#v", typ, body, err)
		}
	})
}
