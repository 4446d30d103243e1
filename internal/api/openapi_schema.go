package api

import (
	"encoding"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// jsonObject is a JSON object of the OpenAPI document under construction.
type jsonObject = map[string]any

// schemas builds the JSON Schemas (OpenAPI 3.1: JSON Schema 2020-12) of Go
// types by reflection over what encoding/json does with them: exported
// fields, json tags (names, "-", omitempty), embedded structs flattened.
// Every named struct becomes a component referenced with $ref; its
// properties are exactly its JSON members (additionalProperties false: the
// server refuses unknown request fields and never sends one). A member
// is required in replies unless omitempty; request schemas require
// nothing (the server says what is missing in its own words).
type schemas struct {
	components jsonObject
	names      map[reflect.Type]string
	taken      map[string]reflect.Type
	// request marks the struct types reachable from a request body.
	request map[reflect.Type]bool
}

func newSchemas() *schemas {
	return &schemas{components: jsonObject{}, names: map[reflect.Type]string{}, taken: map[string]reflect.Type{},
		request: map[reflect.Type]bool{}}
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	durationType      = reflect.TypeFor[time.Duration]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	badNameChars      = regexp.MustCompile(`[^A-Za-z0-9._-]`)
)

// markRequest records t and the struct types it reaches as request types.
func (g *schemas) markRequest(t reflect.Type) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == timeType || g.request[t] {
		return
	}
	g.request[t] = true
	for _, f := range jsonMembers(t) {
		g.markRequest(f.typ)
	}
}

// member is one JSON member of a struct type.
type member struct {
	name      string
	typ       reflect.Type
	omitEmpty bool
}

// jsonMembers lists the JSON members of a struct type as encoding/json
// writes them, embedded structs flattened.
func jsonMembers(t reflect.Type) []member {
	var out []member
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				out = append(out, jsonMembers(et)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, member{name: name, typ: ft, omitEmpty: strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")})
	}
	return out
}

// JSONMembers returns the JSON member names of a struct type (or pointer
// to one) as encoding/json writes them: what the OpenAPI schema of the
// type lists (tests compare the two).
func JSONMembers(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for _, m := range jsonMembers(t) {
		out = append(out, m.name)
	}
	return out
}

// of returns the schema of a type, registering named structs as
// components.
func (g *schemas) of(t reflect.Type) jsonObject {
	switch {
	case t == timeType:
		return jsonObject{"type": "string", "format": "date-time"}
	case t == durationType:
		return jsonObject{"type": "integer", "format": "int64", "description": "a duration in nanoseconds"}
	case t.Kind() != reflect.Pointer && t.Implements(textMarshalerType):
		return jsonObject{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.of(t.Elem())
	case reflect.Bool:
		return jsonObject{"type": "boolean"}
	case reflect.String:
		return jsonObject{"type": "string"}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return jsonObject{"type": "integer", "format": "int32"}
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return jsonObject{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		return jsonObject{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return jsonObject{"type": "string", "contentEncoding": "base64"}
		}
		return jsonObject{"type": "array", "items": g.of(t.Elem())}
	case reflect.Map:
		return jsonObject{"type": "object", "additionalProperties": g.of(t.Elem())}
	case reflect.Interface:
		return jsonObject{}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		return jsonObject{"$ref": "#/components/schemas/" + g.component(t)}
	}
	return jsonObject{}
}

// component registers a named struct type and returns its component name:
// the type's name, or package.Name when two packages use one name.
func (g *schemas) component(t reflect.Type) string {
	if n, ok := g.names[t]; ok {
		return n
	}
	n := badNameChars.ReplaceAllString(t.Name(), "_")
	if other, ok := g.taken[n]; ok && other != t {
		pkg := t.PkgPath()
		n = badNameChars.ReplaceAllString(pkg[strings.LastIndex(pkg, "/")+1:]+"."+t.Name(), "_")
	}
	g.names[t], g.taken[n] = n, t
	g.components[n] = jsonObject{} // a placeholder against recursion
	g.components[n] = g.object(t)
	return n
}

// object returns the schema of a struct type.
func (g *schemas) object(t reflect.Type) jsonObject {
	props := jsonObject{}
	var required []string
	for _, m := range jsonMembers(t) {
		s := g.of(m.typ)
		if !m.omitEmpty && nullable(m.typ) {
			s = orNull(s)
		}
		props[m.name] = s
		if !m.omitEmpty && !g.request[t] {
			required = append(required, m.name)
		}
	}
	o := jsonObject{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

// nullable reports whether encoding/json may write null for a value of t
// (a nil pointer, slice, map or interface).
func nullable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Interface:
		return true
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8
	}
	return false
}

// orNull widens a schema to admit null.
func orNull(s jsonObject) jsonObject {
	if len(s) == 0 {
		return s
	}
	if typ, ok := s["type"].(string); ok && s["$ref"] == nil {
		c := jsonObject{}
		for k, v := range s {
			c[k] = v
		}
		c["type"] = []string{typ, "null"}
		return c
	}
	return jsonObject{"anyOf": []any{s, jsonObject{"type": "null"}}}
}
