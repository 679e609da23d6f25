package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/zhiliao/zhiliao/model"
)

// The core's namespace (model.NamespaceBits says what it is for): SQLite
// places a table's first row in it explicitly, after which its rowids follow
// on their own; PostgreSQL restarts its identity columns and sequences in it.

// NamespaceBits and the rest are model's, here for the store's callers.
const (
	NamespaceBits = model.NamespaceBits
	MaxNamespace  = model.MaxNamespace
)

// NamespaceOf is the namespace an id or seq belongs to.
func NamespaceOf(idOrSeq int64) int64 { return model.NamespaceOf(idOrSeq) }

// Namespace is this core's namespace (0: none).
func (db *DB) Namespace() int64 { return db.namespace.Load() }

func (db *DB) namespaceBase() int64 { return db.namespace.Load() << NamespaceBits }

// loadMeta reads the core's facts once it is open.
func (db *DB) loadMeta(ctx context.Context) error {
	var v string
	err := db.w.QueryRowContext(ctx, "SELECT value FROM core_meta WHERE key = 'namespace'").Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read core_meta: %w", err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > MaxNamespace {
		return fmt.Errorf("core_meta: namespace %q is not a number from 0 to %d", v, MaxNamespace)
	}
	db.namespace.Store(n)
	return nil
}

// SetNamespace gives an empty core namespace n (1..MaxNamespace). Setting
// the namespace it already has does nothing; any other change of a core that
// holds an entity row or an outbox event is refused, because the ids it has
// given out would then lie outside its namespace.
func (db *DB) SetNamespace(ctx context.Context, n int64) error {
	if n < 1 || n > MaxNamespace {
		return model.Invalid("institution_number", "机构编号须在 1 到 %d 之间 (institution number must be 1..%d)", MaxNamespace, MaxNamespace)
	}
	if db.Namespace() == n {
		return nil
	}
	base := n << NamespaceBits
	err := db.write(ctx, func(tx *Tx) error {
		var rows int64
		if err := tx.queryRow("SELECT (SELECT count(*) FROM cdc_outbox) + (SELECT count(*) FROM institution)").Scan(&rows); err != nil {
			return err
		}
		if rows > 0 || db.Namespace() != 0 {
			return model.Conflict("namespace.not_empty", "核心库已有数据，不能再设置机构编号 (the core already holds data: its namespace can be set only while it is empty)")
		}
		if _, err := tx.exec("INSERT INTO core_meta (key, value) VALUES ('namespace', ?)", strconv.FormatInt(n, 10)); err != nil {
			return err
		}
		// Identity columns (or, on SQLite, the first insert of each table:
		// insert) and the outbox sequence restart in the namespace.
		var tables []string
		for _, e := range model.Entities() {
			tables = append(tables, tableOf(e).name)
		}
		return db.eng.PlaceNamespace(tx.ctx, tx.tx, tables, base)
	})
	if err == nil {
		db.namespace.Store(n)
	}
	return err
}

// firstID is the explicit id an insert into tb takes on SQLite when the core
// has a namespace and the table holds no id in it yet (0: let SQLite choose,
// which is the highest id plus one). Once a table holds one, it is
// remembered; a rolled-back first insert is simply checked again.
func (tx *Tx) firstID(tb *table) (int64, error) {
	base := tx.db.namespaceBase()
	if base == 0 || !tx.db.eng.PlacesFirstRows() {
		return 0, nil
	}
	if _, ok := tx.db.placed.Load(tb.name); ok {
		return 0, nil
	}
	var max sql.NullInt64
	if err := tx.queryRow("SELECT max(id) FROM " + tb.name).Scan(&max); err != nil {
		return 0, err
	}
	if max.Valid && max.Int64 > base {
		tx.db.placed.Store(tb.name, true)
		return 0, nil
	}
	return base + 1, nil
}
