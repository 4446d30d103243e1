package api_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/directory"
)

// jsonFields returns the JSON member names and Go kinds of a struct type,
// embedded structs flattened.
func jsonFields(t reflect.Type) map[string]reflect.Kind {
	out := map[string]reflect.Kind{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if f.IsExported() {
			k := f.Type.Kind()
			if k == reflect.Pointer {
				k = f.Type.Elem().Kind()
			}
			out[f.Name] = k
		}
	}
	return out
}

// TestSharedTypesMatchTheCore: the API's request types carry exactly the
// fields of the core's types they are converted into (a field added to
// one but not the other would be dropped silently, or refused as an
// UnknownField).
func TestSharedTypesMatchTheCore(t *testing.T) {
	for _, c := range []struct {
		api, core any
		extra     []string // fields only the API type has
	}{
		{apitypes.EndpointCreate{}, directory.EndpointSpec{}, nil},
		{apitypes.EndpointUpdate{}, directory.EndpointUpdate{}, nil},
		{apitypes.EndpointOAuth{}, directory.EndpointOAuth{}, nil},
		{apitypes.StorageGC{}, admin.StorageGCRequest{}, nil},
		{apitypes.VerificationRecord{}, directory.VerificationRecord{}, nil},
		{apitypes.DNSRecordView{}, admin.DNSRecord{}, []string{"Zone"}},
	} {
		a, k := jsonFields(reflect.TypeOf(c.api)), jsonFields(reflect.TypeOf(c.core))
		for _, f := range c.extra {
			delete(a, f)
		}
		if !reflect.DeepEqual(a, k) {
			var only []string
			for f := range a {
				if _, ok := k[f]; !ok {
					only = append(only, "api:"+f)
				}
			}
			for f := range k {
				if _, ok := a[f]; !ok {
					only = append(only, "core:"+f)
				}
			}
			slices.Sort(only)
			t.Errorf("%T and %T differ: %v (or in kinds: %v vs %v)", c.api, c.core, only, a, k)
		}
	}
}
