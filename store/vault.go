package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/vault"
)

// Sensitive fields at rest (issue 15, package vault):
//   - the patient's phone and national ID number are stored sealed with
//     SM4-GCM under the core's data key, with an HMAC-SM3 blind index
//     beside each for exact lookups; the row layer seals on write and opens
//     on read, so services see clear values and SQL never does. (The core
//     has no address column; a patient's address is not collected.)
//   - the CDC payload, which becomes the outbox at rest and the warehouse,
//     never carries them: it carries their masked display forms and a keyed
//     pseudonym of the person, and the patient's name masked too unless the
//     core was told otherwise (WarehouseNames).
// A core with no keys (tests of other things; a core from before issue 15
// until it is opened with a key) stores clear values; its payloads are
// masked all the same.

// ErrKeyRequired is a core whose fields are sealed, opened without its
// master key.
var ErrKeyRequired = errors.New("master key required")

// sealedColumns are the columns stored sealed, by table.
var sealedColumns = map[string][]string{"patient": {"phone", "id_number"}}

// derivedIndexes are the keyed indexes written beside a sealed column's own
// blind index, each an HMAC-SM3 (vault.BlindIndex) over a part of the clear
// value in a column <name>_bidx. phone_tail indexes a phone's last four
// digits, so the desk finds a caller by them without the phone ever being
// stored in clear: a keyed suffix index. It sorts patients into 10 000
// groups that only the index key can name, which is what a lookup by four
// digits needs and all it reveals to a holder of the file without the key.
var derivedIndexes = map[string][]derivedIndex{"phone": {{name: "phone_tail", of: phoneTail}}}

type derivedIndex struct {
	name string
	of   func(clear string) string
}

// phoneTail is the last four digits of a phone number ("" for fewer).
func phoneTail(phone string) string {
	d := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, phone)
	if len(d) < 4 {
		return ""
	}
	return d[len(d)-4:]
}

// indexColumns are the index columns written for a sealed column, its own
// first, in the order inserts and updates write them.
func indexColumns(col string) []string {
	out := []string{col + "_bidx"}
	for _, d := range derivedIndexes[col] {
		out = append(out, d.name+"_bidx")
	}
	return out
}

// indexValues are the values of col's index columns for a clear value, in
// indexColumns order.
func (db *DB) indexValues(col, clear string) []any {
	out := []any{db.keyring().BlindIndex(col, clear)}
	for _, d := range derivedIndexes[col] {
		out = append(out, db.keyring().BlindIndex(d.name, d.of(clear)))
	}
	return out
}

// Warehouse name policies (Options.WarehouseNames, core_meta warehouse_names).
const (
	NamesMasked = "masked" // the default: 张*三 in the outbox and the warehouse
	NamesClear  = "clear"  // chosen at `serve --warehouse-names clear`, and recorded
)

// openVault loads the core's keys with the master key, creating them in a
// core that has none. A core that has keys refuses to open without the
// master key or with another one, before anything is written.
func (db *DB) openVault(ctx context.Context, m *vault.Master, names string) error {
	keys, err := db.wrappedKeys(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 && m != nil {
		now := formatTime(time.Now())
		for _, k := range vault.NewKeys(m) {
			// ON CONFLICT: several service instances may start on a new
			// PostgreSQL core at once; one set of keys wins, all read it.
			if _, err := db.w.ExecContext(ctx, db.sqlText("INSERT INTO vault_key (id, kind, wrapped, master, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"),
				k.ID, k.Kind, k.Wrapped, k.Master, now); err != nil {
				return fmt.Errorf("store keys: %w", err)
			}
		}
		if _, err := db.w.ExecContext(ctx, "INSERT INTO core_meta (key, value) VALUES ('data_key', 'd1') ON CONFLICT (key) DO NOTHING"); err != nil {
			return fmt.Errorf("store keys: %w", err)
		}
		if keys, err = db.wrappedKeys(ctx); err != nil {
			return err
		}
	}
	if len(keys) > 0 {
		if m == nil {
			return fmt.Errorf("%w: 核心库的敏感字段已用 SM4 加密，启动需要它的主密钥 (--key-file) (this core's sensitive fields are sealed: give its master key with --key-file)", ErrKeyRequired)
		}
		current, err := db.meta(ctx, "data_key")
		if err != nil {
			return err
		}
		k, err := vault.Open(m, keys, current)
		if err != nil {
			return err
		}
		db.keyPtr.Store(k)
		db.master = m
	}
	stored, err := db.meta(ctx, "warehouse_names")
	if err != nil {
		return err
	}
	switch {
	case names == "" && stored == "":
		names = NamesMasked
	case names == "":
		names = stored
	case names != NamesMasked && names != NamesClear:
		return fmt.Errorf("warehouse names %q: want %s or %s", names, NamesMasked, NamesClear)
	}
	if names != stored {
		// Recorded, so every process writing to this core masks alike and
		// the 说明 sheet can say which was chosen.
		if _, err := db.w.ExecContext(ctx, db.sqlText("INSERT INTO core_meta (key, value) VALUES ('warehouse_names', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"), names); err != nil {
			return err
		}
		if stored != "" {
			db.Logger.Warn("warehouse names policy changed; rebuild the warehouse (zhiliao warehouse rebuild) so rows shipped before follow it", "from", stored, "to", names)
		}
	}
	db.clearNames = names == NamesClear
	return nil
}

const keysQuery = "SELECT id, kind, wrapped, master FROM vault_key ORDER BY id"

func (db *DB) wrappedKeys(ctx context.Context) ([]vault.WrappedKey, error) {
	return scanKeys(db.w.QueryContext(ctx, keysQuery))
}

// txKeys reads the keys through a write transaction (on SQLite the
// writer's one connection is the transaction's).
func txKeys(tx *Tx) ([]vault.WrappedKey, error) {
	return scanKeys(tx.tx.QueryContext(tx.ctx, keysQuery))
}

func scanKeys(rows *sql.Rows, err error) ([]vault.WrappedKey, error) {
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	defer rows.Close()
	var out []vault.WrappedKey
	for rows.Next() {
		var k vault.WrappedKey
		if err := rows.Scan(&k.ID, &k.Kind, &k.Wrapped, &k.Master); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (db *DB) meta(ctx context.Context, key string) (string, error) {
	var v string
	err := db.w.QueryRowContext(ctx, db.sqlText("SELECT value FROM core_meta WHERE key = ?"), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// Sealed reports whether the core seals its sensitive fields.
func (db *DB) Sealed() bool { return db.keyring() != nil }

// WarehouseNames is the core's recorded policy for names in the warehouse.
func (db *DB) WarehouseNames() string {
	if db.clearNames {
		return NamesClear
	}
	return NamesMasked
}

// sealValues returns vals (a row's values after the id column) with the
// sealed columns encrypted, and the values of their index columns by
// sealed column (indexValues).
func (db *DB) sealValues(tb *table, vals []any) ([]any, map[string][]any) {
	if db.keyring() == nil || len(tb.sealed) == 0 {
		return vals, nil
	}
	out := append([]any(nil), vals...)
	bidx := map[string][]any{}
	for _, i := range tb.sealed {
		name := tb.cols[i].name
		v, _ := vals[i-1].(string)
		out[i-1] = db.keyring().Seal(name, v)
		bidx[name] = db.indexValues(name, v)
	}
	return out, bidx
}

// blindArgs are the index values of an insert, in tb.sealed order, each
// sealed column's in indexColumns order ("" on a core without keys).
func blindArgs(tb *table, bidx map[string][]any) []any {
	var out []any
	for _, i := range tb.sealed {
		name := tb.cols[i].name
		vals := bidx[name]
		for k := range indexColumns(name) {
			if k < len(vals) {
				out = append(out, vals[k])
			} else {
				out = append(out, "")
			}
		}
	}
	return out
}

// setBlindIndex writes a row's index columns after an update that changed
// a sealed column.
func (tx *Tx) setBlindIndex(tb *table, id int64, bidx map[string][]any) error {
	if bidx == nil {
		return nil
	}
	var sets []string
	var args []any
	for _, i := range tb.sealed {
		name := tb.cols[i].name
		for _, c := range indexColumns(name) {
			sets = append(sets, c+" = ?")
		}
		args = append(args, bidx[name]...)
	}
	_, err := tx.exec("UPDATE "+tb.name+" SET "+strings.Join(sets, ", ")+" WHERE id = ?", append(args, id)...)
	return err
}

// unseal opens e's sealed fields in place after a scan. A value that does
// not open (altered, or sealed under a key the core lacks) is reported with
// its row and read as empty: one bad row never fails a page or a report.
func (db *DB) unseal(tb *table, e model.Entity) {
	if len(tb.sealed) == 0 {
		return
	}
	v := reflect.ValueOf(e).Elem()
	for _, i := range tb.sealed {
		f := v.FieldByIndex(tb.cols[i].index)
		s := f.String()
		if !vault.IsSealed(s) {
			continue
		}
		if db.keyring() == nil {
			f.SetString("")
			continue
		}
		clear, err := db.openValue(tb.cols[i].name, s)
		if err != nil {
			db.Logger.Error("sealed field does not open", "table", tb.name, "id", model.GetMeta(e).ID, "err", err)
		}
		f.SetString(clear)
	}
}

// openColumn opens one sealed column's values read by raw SQL.
func (db *DB) openColumn(table, col string, vals map[int64]string) {
	for id, s := range vals {
		if !vault.IsSealed(s) {
			continue
		}
		clear := ""
		if db.keyring() != nil {
			var err error
			if clear, err = db.openValue(col, s); err != nil {
				db.Logger.Error("sealed field does not open", "table", table, "id", id, "err", err)
			}
		}
		vals[id] = clear
	}
}

// payload is an entity's CDC payload: its JSON, with the identifying
// fields replaced by what the warehouse may hold (see the top of the file).
func (db *DB) payload(e model.Entity) ([]byte, error) {
	if db.DisablePseudonyms {
		return json.Marshal(e)
	}
	switch x := e.(type) {
	case *model.Patient:
		p := *x
		p.Phone, p.IDNumber = model.MaskPhone(p.Phone), model.MaskIDNumber(p.IDNumber)
		if !db.clearNames {
			p.Name = maskName(p.Name)
		}
		out := struct {
			model.Patient
			Pseudonym string `json:"pseudonym"` // always present: scrubEvent tells old payloads by its absence
		}{Patient: p, Pseudonym: db.pseudonym(x)}
		return json.Marshal(out)
	case *model.Record:
		if !db.clearNames {
			r := *x
			r.PatientName = maskName(r.PatientName)
			return json.Marshal(&r)
		}
	case *model.Consent:
		if !db.clearNames {
			c := *x
			c.SignerName = maskName(c.SignerName)
			return json.Marshal(&c)
		}
	}
	return json.Marshal(e)
}

// maskName masks a name for the warehouse; a blank one stays as it is, so
// the data-quality rules still see it blank (06.01.4 完整性), and there is
// nothing in it to hide.
func maskName(s string) string {
	if strings.TrimSpace(s) == "" {
		return s
	}
	return model.MaskName(s)
}

// pseudonym is the warehouse's token for a patient: of the national ID
// number when there is one (the same person in two hospitals of a region
// gets the same token where both cores share the pseudonym key), else of
// the institution and MRN.
func (db *DB) pseudonym(p *model.Patient) string {
	if db.keyring() == nil {
		return ""
	}
	if p.IDNumber != "" {
		return db.keyring().Pseudonym("id:" + p.IDNumber)
	}
	return db.keyring().Pseudonym(fmt.Sprintf("mrn:%d:%s", p.InstitutionID, p.MRN))
}

// scrubEvent applies payload's rules to an outbox event written before them
// (a core migrated in place still holds clear payloads until they ship).
// The relay reads every event through it, so it decides without parsing:
// a patient payload carries its pseudonym key from then on, and a masked
// or blank name is left as it is; only an old payload is parsed and masked.
func (db *DB) scrubEvent(ev *model.ChangeEvent) error {
	if db.DisablePseudonyms {
		return nil
	}
	var e model.Entity
	switch ev.Entity {
	case "patient":
		if bytes.Contains(ev.Payload, []byte(`"pseudonym":`)) {
			return nil
		}
		e = &model.Patient{}
	case "record":
		if db.clearNames || nameMasked(ev.Payload, `"patient_name":"`) {
			return nil
		}
		e = &model.Record{}
	case "consent":
		if db.clearNames || nameMasked(ev.Payload, `"signer_name":"`) {
			return nil
		}
		e = &model.Consent{}
	default:
		return nil
	}
	if err := json.Unmarshal(ev.Payload, e); err != nil {
		return fmt.Errorf("outbox seq %d: %w", ev.Seq, err)
	}
	b, err := db.payload(e)
	if err != nil {
		return err
	}
	ev.Payload = append(ev.Payload[:0], b...)
	return nil
}

// nameMasked reports whether the JSON string after key is masked or blank.
// An escaped value is not judged here (false: the caller parses it).
func nameMasked(payload []byte, key string) bool {
	i := bytes.Index(payload, []byte(key))
	if i < 0 {
		return true // no such field: nothing to mask
	}
	v := payload[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 || bytes.IndexByte(v[:j], '\\') >= 0 {
		return false
	}
	v = v[:j]
	return bytes.IndexByte(v, '*') >= 0 || len(bytes.TrimSpace(v)) == 0
}

// SealInPlace seals the sensitive fields of rows a core stored in clear
// before it had keys (or under an older data key when rekey is set), in
// batches of one transaction each, writing progress to w. It is resumable:
// a batch either commits whole or not at all, and the next run picks up the
// rows still in clear. Rows keep their version: the values they hold are the
// same, and the outbox's masked payloads do not change.
func (db *DB) SealInPlace(ctx context.Context, rekey bool, w io.Writer) (int64, error) {
	if db.keyring() == nil {
		return 0, fmt.Errorf("%w: 没有密钥，无法加密 (no keys: open the core with --key-file)", ErrKeyRequired)
	}
	var done int64
	for table, cols := range sealedColumns {
		conds := make([]string, 0, len(cols))
		for _, c := range cols {
			if rekey {
				conds = append(conds, fmt.Sprintf("(%s <> '' AND %s NOT LIKE 'sm4:%s:%%')", c, c, db.keyring().Current()))
			} else {
				conds = append(conds, fmt.Sprintf("(%s <> '' AND %s NOT LIKE 'sm4:%%')", c, c))
			}
		}
		where := strings.Join(conds, " OR ")
		query := fmt.Sprintf("SELECT id, %s FROM %s WHERE %s ORDER BY id LIMIT 500", strings.Join(cols, ", "), table, where)
		var total int64
		if err := db.w.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", table, where)).Scan(&total); err != nil {
			return done, err
		}
		for {
			n := 0
			err := db.enqueue(ctx, func(tx *Tx) error {
				rows, err := tx.tx.QueryContext(tx.ctx, query)
				if err != nil {
					return err
				}
				type row struct {
					id   int64
					vals []string
				}
				var batch []row
				for rows.Next() {
					r := row{vals: make([]string, len(cols))}
					dest := []any{&r.id}
					for i := range r.vals {
						dest = append(dest, &r.vals[i])
					}
					if err := rows.Scan(dest...); err != nil {
						rows.Close()
						return err
					}
					batch = append(batch, r)
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					return err
				}
				for _, r := range batch {
					sets := make([]string, 0, 2*len(cols))
					args := make([]any, 0, 2*len(cols)+1)
					for i, c := range cols {
						clear, err := db.openValue(c, r.vals[i])
						if err != nil {
							return fmt.Errorf("%s %d: %w", table, r.id, err)
						}
						sets = append(sets, c+" = ?")
						args = append(args, db.keyring().Seal(c, clear))
						for _, ic := range indexColumns(c) {
							sets = append(sets, ic+" = ?")
						}
						args = append(args, db.indexValues(c, clear)...)
					}
					if _, err := tx.exec("UPDATE "+table+" SET "+strings.Join(sets, ", ")+" WHERE id = ?", append(args, r.id)...); err != nil {
						return err
					}
				}
				n = len(batch)
				return nil
			})
			if err != nil {
				return done, err
			}
			if n == 0 {
				break
			}
			done += int64(n)
			if w != nil {
				fmt.Fprintf(w, "加密 sealing %s: %d / %d\n", table, done, total)
			}
		}
	}
	return done, nil
}

// FindPatients finds the patients of the actor's institution whose phone or
// national ID number (field) is exactly value: through the blind index on
// a sealed core, so the lookup never decrypts a row it does not return.
func (db *DB) FindPatients(ctx context.Context, field, value string) ([]*model.Patient, error) {
	if field != "phone" && field != "id_number" {
		return nil, model.Invalid("field", "只能按手机号或身份证号查找 (phone or id_number)")
	}
	if vault.Normalize(value) == "" {
		return nil, model.Invalid(field, "查找值不能为空")
	}
	inst := model.ActorFrom(ctx).InstitutionID
	if db.keyring() == nil {
		return listRows[model.Patient](ctx, db.q(ctx), "institution_id = ? AND upper(replace("+field+", ' ', '')) = ? ORDER BY id", inst, vault.Normalize(value))
	}
	return listRows[model.Patient](ctx, db.q(ctx), field+"_bidx = ? AND institution_id = ? ORDER BY id", db.keyring().BlindIndex(field, value), inst)
}

// sealLeftovers migrates a core in place when it is first opened with a key:
// the rows it stored in clear are sealed, batch by batch, with progress in
// the log. Interrupted, the next open goes on from where it stopped.
func (db *DB) sealLeftovers(ctx context.Context) error {
	if db.keyring() == nil {
		return nil
	}
	n, err := db.SealInPlace(ctx, false, logWriter{db.Logger})
	if n > 0 {
		db.Logger.Info("sealed fields stored in clear", "rows", n)
	}
	return err
}

// fillDerivedIndexes writes the derived index columns (derivedIndexes) of
// rows sealed before the column existed: a core sealed before the phone's
// suffix index came is filled in batches when it opens, and the search by
// the last four digits finds its patients too.
func (db *DB) fillDerivedIndexes(ctx context.Context) error {
	if db.keyring() == nil {
		return nil
	}
	for table, cols := range sealedColumns {
		for _, c := range cols {
			for _, d := range derivedIndexes[c] {
				query := fmt.Sprintf("SELECT id, %s FROM %s WHERE %s <> '' AND %s_bidx = '' ORDER BY id LIMIT 500", c, table, c, d.name)
				for {
					n := 0
					err := db.enqueue(ctx, func(tx *Tx) error {
						rows, err := tx.tx.QueryContext(tx.ctx, query)
						if err != nil {
							return err
						}
						type row struct {
							id     int64
							stored string
						}
						var batch []row
						for rows.Next() {
							var r row
							if err := rows.Scan(&r.id, &r.stored); err != nil {
								rows.Close()
								return err
							}
							batch = append(batch, r)
						}
						rows.Close()
						if err := rows.Err(); err != nil {
							return err
						}
						for _, r := range batch {
							clear, err := db.openValue(c, r.stored)
							if err != nil {
								return fmt.Errorf("%s %d: %w", table, r.id, err)
							}
							idx := db.keyring().BlindIndex(d.name, d.of(clear))
							if idx == "" {
								idx = "-" // no digits to index: marked, so the next pass moves on
							}
							if _, err := tx.exec("UPDATE "+table+" SET "+d.name+"_bidx = ? WHERE id = ?", idx, r.id); err != nil {
								return err
							}
						}
						n = len(batch)
						return nil
					})
					if err != nil {
						return err
					}
					if n == 0 {
						break
					}
					db.Logger.Info("derived index filled", "table", table, "index", d.name, "rows", n)
				}
			}
		}
	}
	return nil
}

// logWriter turns progress lines into log records.
type logWriter struct {
	l interface{ Info(string, ...any) }
}

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Info(strings.TrimSpace(string(p)))
	return len(p), nil
}

// keyring is the core's keys now: another process's `keys reencrypt` adds a
// data key, which refreshKeys loads when a value sealed under it is met.
func (db *DB) keyring() *vault.Keyring { return db.keyPtr.Load() }

// refreshKeys re-reads the core's keys with the master key it was opened with.
func (db *DB) refreshKeys(ctx context.Context) error {
	if db.master == nil {
		return nil
	}
	keys, err := db.wrappedKeys(ctx)
	if err != nil {
		return err
	}
	current, err := db.meta(ctx, "data_key")
	if err != nil {
		return err
	}
	k, err := vault.Open(db.master, keys, current)
	if err != nil {
		return err
	}
	db.keyPtr.Store(k)
	return nil
}

// openValue opens one sealed value, loading the core's keys again once when
// it names a data key this process has not seen.
func (db *DB) openValue(column, stored string) (string, error) {
	k := db.keyring()
	if k == nil {
		return "", fmt.Errorf("%w: %s is sealed and the core was opened without keys", vault.ErrCorrupt, column)
	}
	clear, err := k.Open(column, stored)
	if err != nil && !k.Has(vault.KeyOf(stored)) {
		if db.refreshKeys(context.Background()) == nil {
			return db.keyring().Open(column, stored)
		}
	}
	return clear, err
}

// RotateMaster re-wraps the core's keys (and the signing keys) under a new
// master key, in one transaction: a rotation interrupted leaves the old
// master key in force, a finished one the new; no data row is rewritten.
func (db *DB) RotateMaster(ctx context.Context, next *vault.Master) (int, error) {
	if db.master == nil {
		return 0, fmt.Errorf("%w: 核心库没有密钥 (the core has no keys to rotate)", ErrKeyRequired)
	}
	n := 0
	err := db.enqueue(ctx, func(tx *Tx) error {
		n = 0
		keys, err := txKeys(tx) // through the transaction: on SQLite the writer's one connection is ours
		if err != nil {
			return err
		}
		rewrapped, err := vault.Rewrap(db.master, next, keys)
		if err != nil {
			return err
		}
		for _, k := range rewrapped {
			if _, err := tx.exec("UPDATE vault_key SET wrapped = ?, master = ? WHERE id = ?", k.Wrapped, k.Master, k.ID); err != nil {
				return err
			}
			n++
		}
		// Public keys of a hospital CA's signers (externalMaster) have no
		// private key here to re-wrap.
		rows, err := tx.tx.QueryContext(tx.ctx, "SELECT owner, wrapped FROM signing_key WHERE master <> '"+externalMaster+"'")
		if err != nil {
			return err
		}
		type sk struct {
			owner   string
			wrapped []byte
		}
		var sks []sk
		for rows.Next() {
			var s sk
			if err := rows.Scan(&s.owner, &s.wrapped); err != nil {
				rows.Close()
				return err
			}
			sks = append(sks, s)
		}
		rows.Close()
		for _, s := range sks {
			der, err := db.master.Unwrap(s.wrapped, "sm2:"+s.owner)
			if err != nil {
				return err
			}
			if _, err := tx.exec("UPDATE signing_key SET wrapped = ?, master = ? WHERE owner = ?", next.Wrap(der, "sm2:"+s.owner), next.Fingerprint, s.owner); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err == nil {
		db.master = next
	}
	return n, err
}

// Reencrypt seals every sealed value under a new data key, batch by batch
// with progress to w; the old keys stay, so every value opens throughout.
// Interrupted (even by kill -9), it resumes on the next run with the same
// new key: a new key is made only when every row is already under the
// current one.
func (db *DB) Reencrypt(ctx context.Context, w io.Writer) (string, int64, error) {
	k := db.keyring()
	if k == nil {
		return "", 0, fmt.Errorf("%w: 核心库没有密钥 (the core has no keys)", ErrKeyRequired)
	}
	stale, err := db.staleRows(ctx)
	if err != nil {
		return "", 0, err
	}
	if stale == 0 {
		keys, err := db.wrappedKeys(ctx)
		if err != nil {
			return "", 0, err
		}
		id := fmt.Sprintf("d%d", countKind(keys, vault.KindData)+1)
		nk := vault.NewKey(db.master, id, vault.KindData)
		err = db.enqueue(ctx, func(tx *Tx) error {
			if _, err := tx.exec("INSERT INTO vault_key (id, kind, wrapped, master, created_at) VALUES (?, ?, ?, ?, ?)", nk.ID, nk.Kind, nk.Wrapped, nk.Master, formatTime(time.Now())); err != nil {
				return err
			}
			_, err := tx.exec("UPDATE core_meta SET value = ? WHERE key = 'data_key'", id)
			return err
		})
		if err != nil {
			return "", 0, err
		}
		if err := db.refreshKeys(ctx); err != nil {
			return "", 0, err
		}
		fmt.Fprintf(w, "新数据密钥 new data key %s\n", id)
	} else {
		fmt.Fprintf(w, "续做 resuming: %d rows not yet under data key %s\n", stale, k.Current())
	}
	n, err := db.SealInPlace(ctx, true, w)
	return db.keyring().Current(), n, err
}

func countKind(keys []vault.WrappedKey, kind string) int {
	n := 0
	for _, k := range keys {
		if k.Kind == kind {
			n++
		}
	}
	return n
}

// staleRows counts the rows with a sealed value not under the current data key.
func (db *DB) staleRows(ctx context.Context) (int64, error) {
	var total int64
	cur := db.keyring().Current()
	for table, cols := range sealedColumns {
		conds := make([]string, 0, len(cols))
		for _, c := range cols {
			conds = append(conds, fmt.Sprintf("(%s <> '' AND %s NOT LIKE 'sm4:%s:%%')", c, c, cur))
		}
		var n int64
		if err := db.w.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", table, strings.Join(conds, " OR "))).Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}
