package model

import (
	"reflect"
	"strings"
	"sync"
	"time"
)

// FieldKind is the storage kind of an entity field, the common ground of the
// core's SQL columns, the CDC payload and the warehouse's typed raw columns.
type FieldKind int

const (
	KindInt      FieldKind = iota // int64
	KindNullInt                   // *int64
	KindString                    // string
	KindBool                      // bool
	KindTime                      // time.Time
	KindNullTime                  // *time.Time
)

// Nullable reports whether a field of this kind may be absent.
func (k FieldKind) Nullable() bool { return k == KindNullInt || k == KindNullTime }

// Field is one column of an entity: its JSON/column name, kind and the index
// path of the struct field (through the embedded Meta and State).
type Field struct {
	Name  string
	Kind  FieldKind
	Index []int
}

var fieldCache sync.Map // reflect.Type → []Field

// Fields lists the columns of an entity in struct order; the first is id.
// The json tags are the column names, so the CDC payload (the JSON of the
// struct) carries exactly these keys.
func Fields(e Entity) []Field {
	t := reflect.TypeOf(e).Elem()
	if v, ok := fieldCache.Load(t); ok {
		return v.([]Field)
	}
	var out []Field
	var walk func(reflect.Type, []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			idx := append(append([]int{}, prefix...), i)
			if f.Anonymous {
				walk(f.Type, idx)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			out = append(out, Field{Name: name, Kind: kindOf(f.Type), Index: idx})
		}
	}
	walk(t, nil)
	fieldCache.Store(t, out)
	return out
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	timePtrType = reflect.TypeOf(&time.Time{})
	intPtrType  = reflect.TypeOf(new(int64))
)

func kindOf(t reflect.Type) FieldKind {
	switch {
	case t == timeType:
		return KindTime
	case t == timePtrType:
		return KindNullTime
	case t == intPtrType:
		return KindNullInt
	case t.Kind() == reflect.Bool:
		return KindBool
	case t.Kind() == reflect.String:
		return KindString
	case t.Kind() == reflect.Int64:
		return KindInt
	}
	// Entities are flat structs of the kinds above; a new kind must be taught
	// to the core, the relay and both warehouse engines together.
	panic("model: unsupported entity field type " + t.String())
}

// Entities returns one zero value of every entity type of the lifecycle, the
// set of tables the outbox describes and the warehouse mirrors.
func Entities() []Entity {
	return []Entity{&Institution{}, &Department{}, &Staff{}, &Room{}, &Project{},
		&Patient{}, &Order{}, &Application{}, &Assessment{}, &Course{}, &Roster{},
		&Slot{}, &Appointment{}, &QueueTicket{}, &PaymentCheck{}, &Image{}, &ConsentTemplate{}, &Consent{},
		&Session{}, &Record{}, &Followup{}, &Survey{}, &Complaint{}, &Notification{}}
}
