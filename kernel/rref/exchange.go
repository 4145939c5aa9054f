package rref

import (
	"fmt"
	"reflect"
	"sync"
)

// verdicts caches Exchangeable per type: New checks its type every time.
var verdicts sync.Map // reflect.Type -> error (nil: exchangeable)

func mustExchange(t reflect.Type) {
	if err := Exchangeable(t); err != nil {
		panic(err)
	}
}

// Exchangeable reports whether values of t may live in the shared heap:
// plain data only. Booleans, numbers, strings (immutable, so sharing one is
// as good as copying it) and arrays and structs of those are; pointers,
// uintptr, slices, maps, channels, funcs and interfaces are not, since
// through them two domains would share mutable memory the heap does not
// track. cmd/idlgen applies the same rule to IDL signatures at build time.
func Exchangeable(t reflect.Type) error {
	if v, ok := verdicts.Load(t); ok {
		err, _ := v.(error)
		return err
	}
	var err error
	if why := plain(t, ""); why != "" {
		err = fmt.Errorf("rref: %v is not exchangeable: %s", t, why)
	}
	verdicts.Store(t, err)
	return err
}

func plain(t reflect.Type, path string) string {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return ""
	case reflect.Array:
		return plain(t.Elem(), path+"[]")
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if why := plain(f.Type, path+"."+f.Name); why != "" {
				return why
			}
		}
		return ""
	}
	where := ""
	if path != "" {
		where = " at " + path
	}
	return fmt.Sprintf("it holds a %v%s", t.Kind(), where)
}
