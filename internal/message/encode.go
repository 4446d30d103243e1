package message

import (
	"bytes"
	"encoding/gob"
	"fmt"
)

// Version names the parser's rules. A stored tree of another version is
// parsed again (bump it whenever Parse gives a different tree for some
// input).
const Version = 1

// wirePart is the stored form of a Part (gob: strings are kept byte for
// byte, 8-bit header values included). NoParams tells an empty parameter
// map from none.
type wirePart struct {
	S        int64
	H        int64
	B        int64
	E        int64
	F        []wireField
	T        string
	U        string
	P        map[string]string
	C        []*wirePart
	M        *wirePart
	L        int64
	NoParams bool
}

type wireField struct {
	N string
	V string
	S int64
	E int64
}

// Encode returns the stored form of a tree.
func Encode(p *Part) ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(toWire(p)); err != nil {
		return nil, fmt.Errorf("encode part tree: %w", err)
	}
	return b.Bytes(), nil
}

// Decode reads a tree stored by Encode.
func Decode(b []byte) (*Part, error) {
	var w wirePart
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&w); err != nil {
		return nil, fmt.Errorf("decode part tree: %w", err)
	}
	return fromWire(&w), nil
}

func toWire(p *Part) *wirePart {
	if p == nil {
		return nil
	}
	w := &wirePart{S: p.Start, H: p.HeaderEnd, B: p.BodyStart, E: p.End, T: p.Type, U: p.Subtype, P: p.Params, M: toWire(p.Message), L: p.Lines, NoParams: p.Params == nil}
	for _, f := range p.Fields {
		w.F = append(w.F, wireField{N: f.Name, V: f.Value, S: f.Start, E: f.End})
	}
	for _, c := range p.Parts {
		w.C = append(w.C, toWire(c))
	}
	return w
}

func fromWire(w *wirePart) *Part {
	if w == nil {
		return nil
	}
	if w.P == nil && !w.NoParams {
		w.P = map[string]string{}
	}
	p := &Part{Start: w.S, HeaderEnd: w.H, BodyStart: w.B, End: w.E, Type: w.T, Subtype: w.U, Params: w.P, Message: fromWire(w.M), Lines: w.L}
	for _, f := range w.F {
		p.Fields = append(p.Fields, Field{Name: f.N, Value: f.V, Start: f.S, End: f.E})
	}
	for _, c := range w.C {
		p.Parts = append(p.Parts, fromWire(c))
	}
	return p
}
