package slab

import (
	"math"
	"reflect"
	"sync/atomic"
	"time"
	"unsafe"
)

// poisoning: Release overwrites every value it takes back (SetPoison).
var poisoning atomic.Bool

// SetPoison makes every Pool's Release overwrite the value it takes back
// with junk, until the returned func is called: a test of a pipeline that
// releases its events then shows whether anything still read one (or a
// string or slice in it) after its release, which in a real run would
// silently read another record's fields once the memory is reused.
func SetPoison() (restore func()) {
	old := poisoning.Swap(true)
	return func() { poisoning.Store(old) }
}

// Poisoned is what poison writes in a string: a value no parser makes.
const Poisoned = "\x00poisoned by slab.Release\x00"

var poisonTime = time.Date(1901, 2, 3, 4, 5, 6, 7, time.FixedZone("POISON", -7*3600-77))

// poison overwrites every field of *v, however deep in its structs and
// arrays: strings with Poisoned, numbers with odd values, booleans with
// true, times with 1901, slices and maps with a fresh junk one (what they
// pointed at is not the pool's memory and is left alone). Pointers are
// left as they are: those into the value itself (an event's pointers into
// its block) see the poisoned fields; others point at memory the pool
// does not own, which must not be touched.
func poison[T any](v *T) {
	poisonValue(reflect.ValueOf(v).Elem())
}

var timeType = reflect.TypeFor[time.Time]()

func poisonValue(v reflect.Value) {
	if !v.CanSet() {
		// An unexported field: written through its address (the value
		// is the pool's own memory).
		v = reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
	}
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(poisonTime))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(Poisoned)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-77)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(77)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(math.NaN())
	case reflect.Struct:
		for i := range v.NumField() {
			poisonValue(v.Field(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			poisonValue(v.Index(i))
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		poisonValue(s.Index(0))
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		poisonValue(k)
		poisonValue(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	}
	// Pointers, interfaces, funcs and channels are left alone (see poison).
}
