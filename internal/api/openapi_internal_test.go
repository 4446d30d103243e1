package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"
)

// filled returns a value of t with every field set to something
// encoding/json writes (non-empty strings, non-nil pointers, one-element
// slices and maps), so omitempty hides nothing.
func filled(t reflect.Type, depth int) reflect.Value {
	v := reflect.New(t).Elem()
	if depth > 6 {
		return v
	}
	switch {
	case t == timeType:
		v.Set(reflect.ValueOf(time.Unix(1, 0)))
		return v
	case t.Kind() != reflect.Pointer && t.Implements(textMarshalerType):
		return v
	}
	switch t.Kind() {
	case reflect.Pointer:
		v.Set(filled(t.Elem(), depth+1).Addr())
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Slice:
		v.Set(reflect.Append(reflect.MakeSlice(t, 0, 1), filled(t.Elem(), depth+1)))
	case reflect.Map:
		v.Set(reflect.MakeMap(t))
		v.SetMapIndex(filled(t.Key(), depth+1), filled(t.Elem(), depth+1))
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() {
				v.Field(i).Set(filled(t.Field(i).Type, depth+1))
			}
		}
	}
	return v
}

// TestOpenAPISchemasHaveEveryField (issue 12): the schema of every named
// type a route's body or reply reaches lists exactly the members
// encoding/json writes for a value with every field set.
func TestOpenAPISchemasHaveEveryField(t *testing.T) {
	s := New(nil, nil)
	s.Routes(http.NewServeMux())
	doc := openAPIDocument(s.routes)
	comps := doc["components"].(jsonObject)["schemas"].(jsonObject)
	g := newSchemas()
	for _, d := range routeDocs {
		for _, v := range []any{d.body, d.reply} {
			if v != nil && reflect.TypeOf(v) != objectType {
				g.of(reflect.TypeOf(v))
			}
		}
	}
	if len(g.names) < 30 {
		t.Fatalf("only %d types reached", len(g.names))
	}
	for typ, name := range g.names {
		c, ok := comps[name].(jsonObject)
		if !ok {
			t.Errorf("%v: no schema %s", typ, name)
			continue
		}
		var schemaKeys []string
		for k := range c["properties"].(jsonObject) {
			schemaKeys = append(schemaKeys, k)
		}
		b, err := json.Marshal(filled(typ, 0).Interface())
		if err != nil {
			t.Fatalf("%v: %v", typ, err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%v: %s", typ, b)
		}
		var jsonKeys []string
		for k := range m {
			jsonKeys = append(jsonKeys, k)
		}
		sort.Strings(schemaKeys)
		sort.Strings(jsonKeys)
		if !slices.Equal(schemaKeys, jsonKeys) {
			t.Errorf("%v (schema %s): schema members %v, JSON members %v", typ, name, schemaKeys, jsonKeys)
		}
		if got := JSONMembers(typ); len(got) != len(jsonKeys) {
			t.Errorf("%v: JSONMembers %v", typ, got)
		}
	}
}

// TestOpenAPIRouteDocs: every registered route has a description and every
// description a route (a stale entry would describe nothing).
func TestOpenAPIRouteDocs(t *testing.T) {
	s := New(nil, nil)
	s.Routes(http.NewServeMux())
	seen := map[string]bool{}
	for _, r := range s.routes {
		if seen[r] {
			t.Errorf("route %s registered twice", r)
		}
		seen[r] = true
		if _, ok := routeDocs[r]; !ok {
			t.Errorf("route %s has no routeDocs entry", r)
		}
	}
	for r, d := range routeDocs {
		if !seen[r] {
			t.Errorf("routeDocs describes %s, which is not registered", r)
		}
		if d.summary == "" {
			t.Errorf("%s has no summary", r)
		}
	}
}
