package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/zhiliao/zhiliao/model"
)

// maxBody is the limit of a JSON body; image uploads have their own.
const maxBody = 1 << 20

// decode reads exactly one JSON object into v, refusing unknown fields,
// wrong types, trailing data and oversized bodies with errors that name the
// field.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return model.Invalid("body", "请求体只能包含一个 JSON 对象 (trailing data after the object)")
	}
	return nil
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &big):
		return &model.Error{Code: model.ETOOLARGE, Field: "body", Message: "请求体过大 (body over " + strconv.FormatInt(big.Limit, 10) + " bytes)"}
	case errors.Is(err, io.EOF):
		return model.Invalid("body", "请求体为空 (empty body)")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return model.Invalid("body", "请求体不是有效的 JSON (malformed JSON)")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return model.Invalid(field, "字段 %s 类型错误：需要 %s (wrong type)", field, typ.Type.String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if field == "" {
			return model.Invalid("body", "未知字段：空字段名 (unknown field with an empty name)")
		}
		return model.Invalid(field, "未知字段 %s (unknown field)", field)
	}
	return model.Invalid("body", "请求体无法解析 (%v)", err)
}

// idParam reads a positive integer path parameter.
func idParam(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, name), 10, 64)
	if err != nil || id <= 0 {
		return 0, model.Invalid(name, "%s 必须是正整数 (invalid id %q)", name, chi.URLParam(r, name))
	}
	return id, nil
}

// queryID reads an optional positive integer query parameter (0 if absent).
func queryID(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, model.Invalid(name, "参数 %s 必须是正整数 (invalid %q)", name, s)
	}
	return id, nil
}

// knownParams refuses query parameters a route does not take.
func knownParams(r *http.Request, names ...string) error { return knownValues(r.URL.Query(), names...) }

// knownValues is knownParams over query values already parsed.
func knownValues(vals url.Values, names ...string) error {
	for k := range vals {
		ok := false
		for _, n := range names {
			ok = ok || k == n
		}
		if !ok {
			return model.Invalid(k, "未知参数 %s (unknown parameter)", k)
		}
	}
	return nil
}
