package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// Analytics is what the API reads of the warehouse side: the ETL run log and
// each mart's freshness. etl.Runner implements it.
type Analytics interface {
	Runs(ctx context.Context, limit int) ([]etl.Result, error)
	Freshness(ctx context.Context) ([]etl.Freshness, error)
	// Live is the marts' common watermark for pages that poll it.
	Live(ctx context.Context) (etl.Live, error)
	// Query and Detail answer mart queries; Stamp changes whenever a mart's
	// rows may have; Dimensions names departments, projects and staff.
	Query(ctx context.Context, m *etl.Mart, q etl.Query) (array.RecordReader, error)
	Detail(ctx context.Context, m *etl.Mart, q etl.DetailQuery) (array.RecordReader, int64, error)
	Stamp(ctx context.Context, mart string) (int64, error)
	Dimensions(ctx context.Context) (*etl.Dims, error)
	// Span is the first and last day with treatment sessions on or before
	// through (YYYY-MM-DD).
	Span(ctx context.Context, through string) (etl.Span, error)
}

func (s *Server) analytics() (Analytics, error) {
	if s.Analytics == nil {
		return nil, &model.Error{Code: model.EINTERNAL, Message: "分析库未配置 the warehouse is not configured"}
	}
	return s.Analytics, nil
}

// analyticsWithoutParams is the warehouse side for a request that takes no
// query parameters (an unknown one is refused).
func (s *Server) analyticsWithoutParams(r *http.Request) (Analytics, error) {
	if err := knownParams(r); err != nil {
		return nil, err
	}
	return s.analytics()
}

// analyticsRoutes are the routes of the warehouse side.
func (s *Server) analyticsRoutes() []route {
	return []route{
		{Method: "GET", Pattern: "/api/v1/etl/runs", Summary: "ETL 运行记录 run log of the marts", Tag: "etl", Action: policy.OperateETL,
			Params: []string{"limit"}, Response: listResponse[etl.Result]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r, "limit"); err != nil {
					return nil, err
				}
				limit := 100
				if v := r.URL.Query().Get("limit"); v != "" {
					n, err := strconv.Atoi(v)
					if err != nil || n < 1 || n > 1000 {
						return nil, model.Invalid("limit", "limit 应为 1–1000 的整数 want an integer from 1 to 1000")
					}
					limit = n
				}
				a, err := s.analytics()
				if err != nil {
					return nil, err
				}
				runs, err := a.Runs(ctx, limit)
				return list(runs), err
			})},
		{Method: "GET", Pattern: "/api/v1/etl/freshness", Summary: "数据新鲜度 freshness of each mart", Tag: "etl", Action: policy.ReadMarts,
			Response: listResponse[etl.Freshness]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				a, err := s.analyticsWithoutParams(r)
				if err != nil {
					return nil, err
				}
				f, err := a.Freshness(ctx)
				return list(f), err
			})},
		{Method: "GET", Pattern: "/api/v1/etl/live", Summary: "数据水位 the marts' watermark for live pages", Tag: "etl", Action: policy.ReadMarts,
			Response: etl.Live{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				a, err := s.analyticsWithoutParams(r)
				if err != nil {
					return nil, err
				}
				return a.Live(ctx)
			})},
	}
}
