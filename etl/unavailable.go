package etl

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse"
)

// RuleShardUnavailable is the rule of the error a read gets while a shard
// of a regional warehouse that the read needs is down.
const RuleShardUnavailable = "warehouse.shard_unavailable"

// read runs a query of a read path (queries, details, dimensions). While a
// shard it needs is down, the error names the institutions whose figures
// are missing, from the names last read: the answer is refused rather than
// given without them.
func (r *Runner) read(ctx context.Context, query string, args ...any) (array.RecordReader, error) {
	rr, err := r.Warehouse.Query(ctx, query, args...)
	if err != nil {
		return nil, r.explain(err)
	}
	return &explainedReader{RecordReader: rr, r: r}, nil
}

// explainedReader explains an error that arrives with the rows.
type explainedReader struct {
	array.RecordReader
	r *Runner
}

func (e *explainedReader) Err() error { return e.r.explain(e.RecordReader.Err()) }

// explain turns a warehouse.UnavailableError into the refusal users read.
func (r *Runner) explain(err error) error {
	var ue *warehouse.UnavailableError
	if err == nil || !errors.As(err, &ue) {
		return err
	}
	var names []string
	if dims := r.dims.dims.Load(); dims != nil {
		for _, in := range dims.Institutions {
			if slices.Contains(ue.Namespaces, model.NamespaceOf(in.ID)) {
				names = append(names, in.Name)
			}
		}
	}
	who := "其上机构"
	if len(names) > 0 {
		who = strings.Join(names, "、")
	}
	return &model.Error{Code: model.EUNAVAILABLE, Rule: RuleShardUnavailable,
		Message: "区域数据仓库的分片暂不可用，" + who + "的数据暂时无法查询；为免给出不完整的合计，本次查询未返回结果，请稍后再试 (" + ue.Error() + ")"}
}

// withScope tells a sharded warehouse which namespaces a query reads: those
// of the departments it is filtered to (nil: no department filter, every
// namespace).
func withScope(ctx context.Context, q *Query) context.Context {
	depts, ok := q.Ints["dept_id"]
	if !ok {
		return ctx
	}
	nss := []int64{}
	for _, d := range depts {
		if ns := model.NamespaceOf(d); !slices.Contains(nss, ns) {
			nss = append(nss, ns)
		}
	}
	return warehouse.WithNamespaces(ctx, nss)
}
