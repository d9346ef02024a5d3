package sessionhttp

import (
	"net/netip"
	"reflect"
	"time"
)

// clone returns a deep copy of v and whether the copy is exact: shares no
// memory with v that a later change of v could reach. Exported fields,
// slices, arrays, maps, pointers and the values in interfaces are copied
// (pointers that meet in v meet in the copy, cycles included). Unexported
// struct fields are copied as they are, which is exact only when they hold
// no references; the copy is reported inexact when they do, except for a
// few standard types documented never to change in place (time.Time and
// the netip values). Non-nil channels, functions and unsafe pointers are
// shared and make the copy inexact too.
func clone[T any](v *T) (T, bool) {
	var out T
	c := cloner{exact: true, seen: map[seenKey]reflect.Value{}}
	c.copy(reflect.ValueOf(&out).Elem(), reflect.ValueOf(v).Elem())
	return out, c.exact
}

type seenKey struct {
	p uintptr
	t reflect.Type
}

type cloner struct {
	exact bool
	seen  map[seenKey]reflect.Value
}

// immutable are struct types whose unexported fields may hold references
// but never change in place.
var immutable = map[reflect.Type]bool{
	reflect.TypeFor[time.Time]():      true,
	reflect.TypeFor[netip.Addr]():     true,
	reflect.TypeFor[netip.AddrPort](): true,
	reflect.TypeFor[netip.Prefix]():   true,
}

// copy sets dst, a settable zero value, to a deep copy of src of the same
// type.
func (c *cloner) copy(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		k := seenKey{src.Pointer(), src.Type()}
		if p, ok := c.seen[k]; ok {
			dst.Set(p)
			return
		}
		p := reflect.New(src.Type().Elem())
		c.seen[k] = p
		c.copy(p.Elem(), src.Elem())
		dst.Set(p)
	case reflect.Interface:
		if src.IsNil() {
			return
		}
		e := src.Elem()
		n := reflect.New(e.Type()).Elem()
		c.copy(n, e)
		dst.Set(n)
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		n := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		if flat(src.Type().Elem()) {
			reflect.Copy(n, src)
		} else {
			for i := range src.Len() {
				c.copy(n.Index(i), src.Index(i))
			}
		}
		dst.Set(n)
	case reflect.Array:
		if flat(src.Type()) {
			dst.Set(src)
			return
		}
		for i := range src.Len() {
			c.copy(dst.Index(i), src.Index(i))
		}
	case reflect.Map:
		if src.IsNil() {
			return
		}
		n := reflect.MakeMapWithSize(src.Type(), src.Len())
		if !flat(src.Type().Key()) {
			c.exact = false // keys are kept as they are: they are the map's identity
		}
		for it := src.MapRange(); it.Next(); {
			v := reflect.New(src.Type().Elem()).Elem()
			c.copy(v, it.Value())
			n.SetMapIndex(it.Key(), v)
		}
		dst.Set(n)
	case reflect.Struct:
		dst.Set(src)
		if immutable[src.Type()] {
			return
		}
		t := src.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				if !flat(f.Type) {
					c.exact = false
				}
				continue
			}
			if flat(f.Type) {
				continue // copied with the struct
			}
			fd := dst.Field(i)
			fd.SetZero()
			c.copy(fd, src.Field(i))
		}
	case reflect.Chan, reflect.Func, reflect.UnsafePointer:
		if !src.IsNil() {
			c.exact = false
		}
		dst.Set(src)
	default:
		dst.Set(src)
	}
}

// flat reports whether values of t hold no references, so that copying
// them by assignment is a deep copy. Strings count as flat: they are
// immutable.
func flat(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return t.Len() == 0 || flat(t.Elem())
	case reflect.Struct:
		if immutable[t] {
			return true
		}
		for i := range t.NumField() {
			if !flat(t.Field(i).Type) {
				return false
			}
		}
		return true
	default:
		return false
	}
}
