package agt

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Arguments reach the engine as JSON. encoding/json writes the float64 1.0 as `1`, which a policy
// would then read as an int; conditions tell ints and doubles apart (`1000.0 / 2` is an error,
// `1000 / 2` is 500), so a Go float must stay a double. encodeArgs therefore walks the value
// itself, following encoding/json's rules for names (json tags, "-", omitempty, embedded structs)
// and deferring to json.Marshaler and encoding.TextMarshaler, and writes every float with a
// fraction or exponent.

var (
	marshalerType     = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshalerType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	numberType        = reflect.TypeOf(json.Number(""))
)

const maxArgDepth = 64

// encodeArgs is the JSON object of a call's arguments (a struct, or a map with string keys).
func encodeArgs(value any) ([]byte, error) {
	v := reflect.ValueOf(value)
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return nil, &RequestError{Message: "the arguments are a nil pointer", Help: "pass a struct or a map of arguments"}
		}
		v = v.Elem()
	}
	if !v.IsValid() || !(v.Kind() == reflect.Struct || (v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String)) {
		return nil, &RequestError{
			Message: fmt.Sprintf("the arguments are a `%T`, not a struct or a map with string keys", value),
			Help:    "govern a function whose argument is a struct (or map[string]T) of named arguments",
		}
	}
	var buf bytes.Buffer
	if err := encodeValue(&buf, v, 0, "args"); err != nil {
		return nil, err
	}
	if buf.Len() > 0 && buf.Bytes()[0] != '{' {
		return nil, &RequestError{Message: fmt.Sprintf("the arguments `%T` do not encode as a JSON object", value)}
	}
	return buf.Bytes(), nil
}

func reflectValue(value any) reflect.Value { return reflect.ValueOf(value) }

func encodeValue(buf *bytes.Buffer, v reflect.Value, depth int, where string) error {
	if depth > maxArgDepth {
		return &RequestError{Message: fmt.Sprintf("argument `%s` is nested deeper than %d levels", where, maxArgDepth)}
	}
	if !v.IsValid() {
		buf.WriteString("null")
		return nil
	}
	t := v.Type()
	if t == numberType {
		text := v.String()
		if text == "" {
			text = "0"
		}
		if !json.Valid([]byte(text)) {
			return &RequestError{Message: fmt.Sprintf("argument `%s` is the invalid json.Number %q", where, text)}
		}
		buf.WriteString(text)
		return nil
	}
	if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface || v.Kind() == reflect.Map ||
		v.Kind() == reflect.Slice) && v.IsNil() {
		buf.WriteString("null")
		return nil
	}
	if t.Implements(marshalerType) || t.Implements(textMarshalerType) ||
		(v.CanAddr() && (reflect.PointerTo(t).Implements(marshalerType) || reflect.PointerTo(t).Implements(textMarshalerType))) {
		var target any = v.Interface()
		if v.CanAddr() && !t.Implements(marshalerType) && !t.Implements(textMarshalerType) {
			target = v.Addr().Interface()
		}
		data, err := json.Marshal(target)
		if err != nil {
			return &RequestError{Message: fmt.Sprintf("argument `%s` could not be encoded: %v", where, err)}
		}
		buf.Write(data)
		return nil
	}
	switch v.Kind() {
	case reflect.Bool:
		buf.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		buf.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		buf.WriteString(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return &RequestError{Message: fmt.Sprintf("argument `%s` is %v, which has no JSON form", where, f)}
		}
		bits := 64
		if v.Kind() == reflect.Float32 {
			bits = 32
		}
		text := strconv.FormatFloat(f, 'g', -1, bits)
		if !strings.ContainsAny(text, ".eE") {
			text += ".0" // still a double to the engine
		}
		buf.WriteString(text)
	case reflect.String:
		data, err := json.Marshal(v.String())
		if err != nil {
			return &RequestError{Message: fmt.Sprintf("argument `%s` could not be encoded: %v", where, err)}
		}
		buf.Write(data)
	case reflect.Pointer, reflect.Interface:
		return encodeValue(buf, v.Elem(), depth+1, where)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			data, _ := json.Marshal(v.Bytes()) // base64, as encoding/json writes []byte
			buf.Write(data)
			return nil
		}
		buf.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeValue(buf, v.Index(i), depth+1, fmt.Sprintf("%s[%d]", where, i)); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return &RequestError{Message: fmt.Sprintf("argument `%s` is a map whose keys are not strings", where)}
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			name, _ := json.Marshal(k)
			buf.Write(name)
			buf.WriteByte(':')
			if err := encodeValue(buf, v.MapIndex(reflect.ValueOf(k).Convert(t.Key())), depth+1, where+"."+k); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case reflect.Struct:
		fields, err := structFields(t)
		if err != nil {
			return &RequestError{Message: fmt.Sprintf("argument `%s`: %v", where, err)}
		}
		buf.WriteByte('{')
		first := true
		for _, f := range fields {
			fv, ok := fieldByIndex(v, f.index)
			if !ok || (f.omitEmpty && isEmpty(fv)) {
				continue
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			name, _ := json.Marshal(f.name)
			buf.Write(name)
			buf.WriteByte(':')
			if err := encodeValue(buf, fv, depth+1, where+"."+f.name); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return &RequestError{
			Message: fmt.Sprintf("argument `%s` is a `%s`, which has no JSON form", where, t),
			Help:    "pass JSON data: strings, numbers, booleans, slices, maps and structs of them",
		}
	}
	return nil
}

type field struct {
	name      string
	index     []int
	omitEmpty bool
}

// structFields lists the JSON fields of a struct type as encoding/json names them. Two fields
// that would share a name at the same depth are refused instead of silently dropped.
func structFields(t reflect.Type) ([]field, error) {
	var out []field
	seen := map[string]int{} // name -> depth
	var walk func(t reflect.Type, index []int, depth int) error
	walk = func(t reflect.Type, index []int, depth int) error {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if strings.Contains(","+opts+",", ",string,") {
				return fmt.Errorf("field `%s` uses the json `,string` option, which is not supported", sf.Name)
			}
			idx := append(append([]int{}, index...), i)
			ft := sf.Type
			if sf.Anonymous && name == "" {
				inner := ft
				if inner.Kind() == reflect.Pointer {
					inner = inner.Elem()
				}
				if inner.Kind() == reflect.Struct {
					if err := walk(inner, idx, depth+1); err != nil {
						return err
					}
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if d, dup := seen[name]; dup {
				if d == depth {
					return fmt.Errorf("two fields are named `%s`", name)
				}
				if d < depth {
					continue // the shallower field wins, as in encoding/json
				}
			}
			seen[name] = depth
			out = append(out, field{name: name, index: idx, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
		}
		return nil
	}
	if err := walk(t, nil, 0); err != nil {
		return nil, err
	}
	// A deeper field shadowed by a shallower one later in the walk is dropped here.
	kept := out[:0]
	for _, f := range out {
		if seen[f.name] == len(f.index)-1 {
			kept = append(kept, f)
		}
	}
	return kept, nil
}

func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}
