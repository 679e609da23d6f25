package api

import (
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/policy"
)

// OpenAPI builds the OpenAPI 3 document of the whole API from the route
// table, with request and response schemas generated from the Go types.
func (s *Server) OpenAPI() (*openapi3.T, error) {
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{Title: "zhiliao 综合治疗管理系统 API", Version: "1",
			Description: "治疗全流程接口：HIS 医嘱、申请、评估、排班、预约、签到排队、确费、知情同意、执行、记录、归档、随访、满意度。"},
		Paths: openapi3.NewPaths(),
		Components: &openapi3.Components{SecuritySchemes: openapi3.SecuritySchemes{
			"bearer": &openapi3.SecuritySchemeRef{Value: openapi3.NewJWTSecurityScheme().WithBearerFormat("opaque")},
		}},
	}
	errSchema, err := openapi3gen.NewSchemaRefForValue(errorBody{}, nil)
	if err != nil {
		return nil, err
	}
	errResp := openapi3.NewResponse().WithDescription("错误 {\"error\":{\"code\",\"message\"}}").WithJSONSchemaRef(errSchema)
	for _, rt := range append(s.routes(), opsRoutes...) {
		op := openapi3.NewOperation()
		op.Summary, op.Tags, op.OperationID = rt.Summary, []string{rt.Tag}, operationID(rt)
		if !rt.Action.Public() {
			op.Security = openapi3.NewSecurityRequirements().With(openapi3.NewSecurityRequirement().Authenticate("bearer"))
			op.Description = rt.Action.Title + "（" + rt.Action.Name + "）；角色 roles: " + strings.Join(rt.Action.Roles, ", ")
		}
		if strings.Contains(rt.Pattern, "/exports/{id}") {
			op.AddParameter(openapi3.NewPathParameter("id").WithSchema(openapi3.NewStringSchema()))
		} else if strings.Contains(rt.Pattern, "{id}") {
			op.AddParameter(openapi3.NewPathParameter("id").WithSchema(openapi3.NewInt64Schema().WithMin(1)))
		}
		if strings.Contains(rt.Pattern, "{name}") {
			op.AddParameter(openapi3.NewPathParameter("name").WithSchema(openapi3.NewStringSchema()))
		}
		if strings.Contains(rt.Pattern, "{token}") {
			op.AddParameter(openapi3.NewPathParameter("token").WithSchema(openapi3.NewStringSchema()))
		}
		if strings.Contains(rt.Pattern, "{file}") {
			op.AddParameter(openapi3.NewPathParameter("file").WithSchema(openapi3.NewStringSchema()))
		}
		if strings.Contains(rt.Pattern, "{type}") {
			op.AddParameter(openapi3.NewPathParameter("type").WithSchema(openapi3.NewStringSchema()))
		}
		if strings.Contains(rt.Pattern, "{table}") {
			op.AddParameter(openapi3.NewPathParameter("table").WithSchema(openapi3.NewStringSchema()))
		}
		if strings.Contains(rt.Pattern, "{mart}") {
			names := make([]any, len(etl.Marts))
			for i, m := range etl.Marts {
				names[i] = m.Name
			}
			op.AddParameter(openapi3.NewPathParameter("mart").WithSchema(openapi3.NewStringSchema().WithEnum(names...)))
		}
		for _, p := range rt.Params {
			op.AddParameter(openapi3.NewQueryParameter(p).WithSchema(openapi3.NewStringSchema()))
		}
		if rt.Audit == policy.AuditWrite { // idempotency.go
			op.AddParameter(openapi3.NewHeaderParameter("Idempotency-Key").WithSchema(openapi3.NewStringSchema().WithPattern(idempotencyKeyPattern.String())).
				WithDescription("幂等键：应答丢失后以同一键重发，不会重复写入，返回首次的应答 (resent with the same key after a lost answer, the write is not repeated; uploads excepted)"))
		}
		if rt.Body != nil {
			body, err := openapi3gen.NewSchemaRefForValue(rt.Body, nil)
			if err != nil {
				return nil, err
			}
			op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).WithJSONSchemaRef(body)}
		}
		ok := openapi3.NewResponse().WithDescription("成功 success")
		if rt.Response != nil {
			resp, err := openapi3gen.NewSchemaRefForValue(rt.Response, nil)
			if err != nil {
				return nil, err
			}
			ok = ok.WithJSONSchemaRef(resp)
		}
		op.AddResponse(0, errResp)
		op.Responses.Set("2XX", &openapi3.ResponseRef{Value: ok})
		doc.AddOperation(rt.Pattern, rt.Method, op)
	}
	return doc, nil
}

// opsRoutes are mounted outside the route table but documented with it.
var opsRoutes = []route{
	{Method: "GET", Pattern: "/healthz", Summary: "存活检查 liveness", Tag: "ops"},
	{Method: "GET", Pattern: "/readyz", Summary: "就绪检查 readiness (migrations ran, stores open)", Tag: "ops"},
	{Method: "GET", Pattern: "/api/v1/openapi.json", Summary: "本文档 this document", Tag: "ops"},
}

func operationID(rt route) string {
	id := strings.ToLower(rt.Method) + strings.NewReplacer("/api/v1/", "_", "/", "_", "{", "", "}", "", "-", "_", ".", "_").Replace(rt.Pattern)
	return strings.Trim(id, "_")
}

var (
	docOnce sync.Once
	docJSON []byte
	docErr  error
)

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	docOnce.Do(func() {
		doc, err := s.OpenAPI()
		if err != nil {
			docErr = err
			return
		}
		docJSON, docErr = doc.MarshalJSON()
	})
	if docErr != nil {
		writeError(w, r, docErr)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(docJSON)
}
