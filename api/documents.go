package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"

	"github.com/zhiliao/zhiliao/interop/cda"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// The document registry over HTTP (DESIGN.md §11; WS/T 447's register,
// query and retrieve): JSON metadata, the CDA XML itself, and its detached
// SM2 signature. Scope is the store's (ids outside it are not found); the
// evaluator's XML is masked (cda.Mask); every query and retrieval is
// audited like a read of the archive.

type (
	documentResponse struct {
		Document *model.Document      `json:"document"`
		Check    *model.DocumentCheck `json:"check"`
		XML      string               `json:"xml_url"`
	}
	signatureResponse struct {
		Algorithm string `json:"algorithm"` // SM2 with SM3, GB/T 32918 / GM/T 0009
		UserID    string `json:"user_id"`   // the SM2 signer id the signature was made with
		Signature string `json:"signature"` // base64 of the ASN.1 signature over the XML's exact bytes
		PublicKey string `json:"public_key"`
	}
)

var documentKinds = map[string]bool{model.DocTreatmentRecord: true, model.DocConsent: true}

func (s *Server) documentRoutes() []route {
	b := s.Backend
	return []route{
		{Method: "GET", Pattern: "/api/v1/documents", Summary: "共享文档查询（按患者、身份证号、文档类型、签署日期）", Tag: "document", Action: policy.ReadDocuments,
			Audit: policy.AuditRead, Entity: "document", Params: []string{"patient", "national_id", "kind", "from", "to", "limit"},
			Response: listResponse[*model.Document]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				q, err := documentQuery(r)
				if err != nil {
					return nil, err
				}
				docs, err := b.Documents(ctx, q)
				return list(docs), err
			})},
		{Method: "GET", Pattern: "/api/v1/documents/failures", Summary: "未能生成共享文档的来源及缺失字段", Tag: "document", Action: policy.ReadDocumentFailures,
			Params: []string{"limit"}, Response: listResponse[model.DocumentFailure]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r, "limit"); err != nil {
					return nil, err
				}
				limit, err := limitParam(r, 100)
				if err != nil {
					return nil, err
				}
				f, err := b.DocumentFailures(ctx, limit)
				return list(f), err
			})},
		{Method: "GET", Pattern: "/api/v1/documents/cda-zh.xsl", Summary: "共享文档的中文样式表（浏览器打开 XML 时使用）", Tag: "document",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/xsl; charset=utf-8")
				w.Header().Set("Cache-Control", "public, max-age=86400")
				w.Write(cda.Stylesheet)
			}},
		{Method: "GET", Pattern: "/api/v1/documents/{id}", Summary: "共享文档登记信息与签名核验", Tag: "document", Action: policy.ReadDocuments,
			Audit: policy.AuditRead, Entity: "document", Response: documentResponse{},
			handler: call(http.StatusOK, noBody(func(ctx context.Context, id int64) (any, error) {
				d, _, err := b.Document(ctx, id)
				if err != nil {
					return nil, err
				}
				check, err := b.CheckDocument(ctx, id)
				return documentResponse{Document: d, Check: check, XML: fmt.Sprintf("/api/v1/documents/%d/xml", id)}, err
			}))},
		{Method: "GET", Pattern: "/api/v1/documents/{id}/xml", Summary: "调阅共享文档（CDA R2 XML；评审专家为脱敏文档）", Tag: "document", Action: policy.ReadDocuments,
			Audit: policy.AuditRead, Entity: "document",
			handler: func(w http.ResponseWriter, r *http.Request) {
				id, err := pathID(r)
				if err != nil {
					writeError(w, r, err)
					return
				}
				if err := knownParams(r); err != nil {
					writeError(w, r, err)
					return
				}
				ctx := r.Context()
				_, content, err := b.Document(ctx, id)
				if err == nil && policy.Deidentified(model.ActorFrom(ctx)) {
					content, err = cda.Mask(content)
				}
				if err != nil {
					writeError(w, r, err)
					return
				}
				w.Header().Set("Content-Type", "application/xml; charset=utf-8")
				w.Header().Set("Cache-Control", "private, no-store")
				w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename="document-%d.xml"`, id))
				w.Write(content)
			}},
		{Method: "GET", Pattern: "/api/v1/documents/{id}/signature", Summary: "共享文档的 SM2 分离签名与验签公钥", Tag: "document", Action: policy.ReadDocuments,
			Audit: policy.AuditRead, Entity: "document", Response: signatureResponse{},
			handler: call(http.StatusOK, noBody(func(ctx context.Context, id int64) (any, error) {
				sig, pub, err := b.DocumentSignature(ctx, id)
				if err != nil {
					return nil, err
				}
				return signatureResponse{Algorithm: "SM2-with-SM3", UserID: "1234567812345678",
					Signature: base64.StdEncoding.EncodeToString(sig), PublicKey: base64.StdEncoding.EncodeToString(pub)}, nil
			}))},
	}
}

// documentQuery reads a registry query's parameters.
func documentQuery(r *http.Request) (model.DocumentQuery, error) {
	var q model.DocumentQuery
	if err := knownParams(r, "patient", "national_id", "kind", "from", "to", "limit"); err != nil {
		return q, err
	}
	vals := r.URL.Query()
	var err error
	if q.PatientID, err = queryID(r, "patient"); err != nil {
		return q, err
	}
	q.NationalID = vals.Get("national_id")
	if len(q.NationalID) > 30 {
		return q, model.Invalid("national_id", "身份证件号码过长")
	}
	if q.Kind = vals.Get("kind"); q.Kind != "" && !documentKinds[q.Kind] {
		return q, model.Invalid("kind", "文档类型应为 treatment_record（治疗记录）或 consent（知情同意书）")
	}
	for name, dst := range map[string]*string{"from": &q.From, "to": &q.To} {
		if v := vals.Get(name); v != "" {
			if _, err := model.ParseDay(name, v); err != nil {
				return q, err
			}
			*dst = v
		}
	}
	if q.From != "" && q.To != "" && q.From > q.To {
		return q, model.Invalid("from", "开始日期不能晚于结束日期")
	}
	if q.Limit, err = limitParam(r, 100); err != nil {
		return q, err
	}
	return q, nil
}

// limitParam reads an optional limit of 1–500.
func limitParam(r *http.Request, def int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 500 {
		return 0, model.Invalid("limit", "limit 应为 1–500 的整数")
	}
	return n, nil
}
