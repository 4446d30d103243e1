package imapd

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// THREAD and UID THREAD (RFC 5256 section 3), answered below go-imap
// (intercept.go):
//
//	THREAD algorithm charset search-keys
//
// ORDEREDSUBJECT groups the matching messages by base subject, each group
// one thread whose first message (by sent date) is the parent of the
// others; REFERENCES links messages by Message-ID, References and
// In-Reply-To, then merges threads with the same base subject, following
// the algorithm of section 2.2 step by step. Dates are sent dates (the
// Date header, else the internal date); ties keep mailbox order.

// threadNode is a message or, with m nil, a dummy in a thread tree.
type threadNode struct {
	m        *candidate
	parent   *threadNode
	children []*threadNode
	// Cached per message: the sent date, base subject and whether the
	// subject marks a reply or forward.
	sent    int64
	subject string
	reply   bool
}

// threadCommand answers THREAD or UID THREAD (args: the command's bytes
// after its name).
func (s *session) threadCommand(tag string, uid bool, args string) []string {
	r := newArgReader(args)
	r.sp()
	alg := strings.ToUpper(r.atom())
	if r.err == "" && alg != "REFERENCES" && alg != "ORDEREDSUBJECT" {
		return []string{tag + " BAD [CLIENTBUG] unknown THREAD algorithm " + responseText(alg) + " (REFERENCES, ORDEREDSUBJECT)"}
	}
	criteria, bad := r.charsetAndCriteria(tag, "THREAD")
	if bad != nil {
		return bad
	}
	matches, err := s.searchMatches(criteria)
	if err != nil {
		return []string{s.statusLine(tag, err)}
	}
	nodes := make([]*threadNode, len(matches))
	for i, m := range matches {
		n := &threadNode{m: m, sent: m.sentInstant().UnixNano()}
		n.subject, n.reply = m.baseSubject()
		nodes[i] = n
	}
	var roots []*threadNode
	if alg == "ORDEREDSUBJECT" {
		roots = threadOrderedSubject(nodes)
	} else {
		roots = threadReferences(nodes)
	}
	var b strings.Builder
	b.WriteString("* THREAD ")
	for _, n := range roots {
		b.WriteByte('(')
		n.write(&b, uid)
		b.WriteByte(')')
	}
	return []string{strings.TrimSuffix(b.String(), " "), tag + " OK THREAD completed"}
}

// write writes a thread below its opening parenthesis: the message's
// number, then its only child in the same list or each child in a list
// of its own; a dummy writes only its children.
func (n *threadNode) write(b *strings.Builder, uid bool) {
	if n.m != nil {
		num := n.m.ref.seq
		if uid {
			num = n.m.ref.uid
		}
		b.WriteString(strconv.FormatUint(uint64(num), 10))
	}
	switch {
	case len(n.children) == 1 && n.m != nil:
		b.WriteByte(' ')
		n.children[0].write(b, uid)
	case len(n.children) > 0:
		if n.m != nil {
			b.WriteByte(' ')
		}
		for _, c := range n.children {
			b.WriteByte('(')
			c.write(b, uid)
			b.WriteByte(')')
		}
	}
}

// dateOrder orders nodes by sent date, then mailbox order; a dummy takes
// its first child's.
func dateOrder(a, b *threadNode) int {
	a, b = a.first(), b.first()
	if c := cmp.Compare(a.sent, b.sent); c != 0 {
		return c
	}
	return cmp.Compare(a.m.ref.seq, b.m.ref.seq)
}

// first returns the node itself, or a dummy's first message.
func (n *threadNode) first() *threadNode {
	for n.m == nil && len(n.children) > 0 {
		n = n.children[0]
	}
	return n
}

// threadOrderedSubject threads by base subject (ORDEREDSUBJECT).
func threadOrderedSubject(nodes []*threadNode) []*threadNode {
	slices.SortStableFunc(nodes, func(a, b *threadNode) int {
		if c := strings.Compare(a.subject, b.subject); c != 0 {
			return c
		}
		return dateOrder(a, b)
	})
	var roots []*threadNode
	for i := 0; i < len(nodes); {
		j := i + 1
		for j < len(nodes) && nodes[j].subject == nodes[i].subject {
			nodes[i].children = append(nodes[i].children, nodes[j])
			j++
		}
		roots = append(roots, nodes[i])
		i = j
	}
	slices.SortStableFunc(roots, dateOrder)
	return roots
}

// threadReferences threads by references (REFERENCES, RFC 5256 section
// 2.2 steps 1 to 6).
func threadReferences(nodes []*threadNode) []*threadNode {
	byID := map[string]*threadNode{}
	var all []*threadNode // every container, in creation order
	container := func(id string) *threadNode {
		n := byID[id]
		if n == nil {
			n = &threadNode{}
			byID[id] = n
			all = append(all, n)
		}
		return n
	}
	unique := 0
	for _, n := range nodes {
		// Step 1: a container per Message-ID (a missing or duplicate one
		// gets a unique id), linked along the references.
		id := firstMessageID(n.m.header("Message-ID"))
		if c := byID[id]; id == "" || c != nil && c.m != nil {
			unique++
			id = "\x00" + strconv.Itoa(unique)
		}
		c := container(id)
		c.m, c.sent, c.subject, c.reply = n.m, n.sent, n.subject, n.reply
		refs := messageIDs(n.m.header("References"))
		if len(refs) == 0 {
			if irt := firstMessageID(n.m.header("In-Reply-To")); irt != "" {
				refs = []string{irt}
			}
		}
		var prev *threadNode
		for _, ref := range refs {
			r := container(ref)
			if prev != nil && r.parent == nil && r != c && !prev.descendsFrom(r) {
				prev.adopt(r)
			}
			prev = r
		}
		// Step 1B: the last reference is the parent. A link made before
		// (by a truncated References field) is broken first, even when
		// the new one would make a loop and is not made.
		c.unlink()
		if prev != nil && !prev.descendsFrom(c) {
			prev.adopt(c)
		}
	}
	// Step 2: the root set.
	root := &threadNode{}
	for _, n := range all {
		if n.parent == nil {
			root.children = append(root.children, n)
		}
	}
	// Step 3: prune dummies.
	root.children = pruneDummies(root.children, true)
	for _, n := range root.children {
		n.parent = nil
	}
	// Step 4: sort the root set by date (a dummy by its first child).
	for _, n := range root.children {
		if n.m == nil {
			slices.SortStableFunc(n.children, dateOrder)
		}
	}
	slices.SortStableFunc(root.children, dateOrder)
	// Step 5: merge threads with the same base subject.
	roots := mergeSubjects(root.children)
	// Step 6: sort every set of siblings, the deepest first.
	for _, n := range roots {
		n.sortDeep()
	}
	slices.SortStableFunc(roots, dateOrder)
	return roots
}

// adopt makes c a child of n.
func (n *threadNode) adopt(c *threadNode) {
	c.parent = n
	n.children = append(n.children, c)
}

// unlink removes n from its parent's children.
func (n *threadNode) unlink() {
	if p := n.parent; p != nil {
		p.children = slices.DeleteFunc(p.children, func(c *threadNode) bool { return c == n })
		n.parent = nil
	}
}

// descendsFrom reports whether n is a (or the) node a or below it.
func (n *threadNode) descendsFrom(a *threadNode) bool {
	for p := n; p != nil; p = p.parent {
		if p == a {
			return true
		}
	}
	return false
}

// pruneDummies removes dummies without children and replaces those with
// children by their children, except at the top level (atTop) where a
// dummy with more than one child stays.
func pruneDummies(nodes []*threadNode, atTop bool) []*threadNode {
	var out []*threadNode
	for _, n := range nodes {
		n.children = pruneDummies(n.children, false)
		for _, c := range n.children {
			c.parent = n
		}
		switch {
		case n.m != nil:
			out = append(out, n)
		case len(n.children) == 0:
		case atTop && len(n.children) > 1:
			out = append(out, n)
		default:
			for _, c := range n.children {
				c.parent = n.parent
			}
			out = append(out, n.children...)
		}
	}
	return out
}

// threadSubject is the subject a top-level node is grouped by: its own,
// or a dummy's first child's.
func (n *threadNode) threadSubject() (string, *threadNode) {
	if n.m == nil && len(n.children) > 0 {
		return n.children[0].subject, n.children[0]
	}
	return n.subject, n
}

// mergeSubjects gathers the top-level threads with the same base subject
// (step 5).
func mergeSubjects(top []*threadNode) []*threadNode {
	table := map[string]*threadNode{}
	for _, n := range top {
		subj, _ := n.threadSubject()
		if subj == "" {
			continue
		}
		old := table[subj]
		if old == nil || old.m != nil && (n.m == nil || old.reply && !n.reply) {
			table[subj] = n
		}
	}
	var out []*threadNode
	for _, n := range top {
		subj, _ := n.threadSubject()
		t := table[subj]
		if subj == "" || t == n {
			out = append(out, n)
			continue
		}
		switch {
		case t.m == nil && n.m == nil:
			for _, c := range n.children {
				t.adopt(c)
			}
		case t.m == nil:
			t.adopt(n)
		case n.reply && !t.reply:
			t.adopt(n)
		default:
			d := &threadNode{}
			i := slices.Index(out, t)
			d.adopt(t)
			d.adopt(n)
			if i >= 0 {
				out[i] = d
			} else {
				// t comes later in the root set: it takes d's place there.
				for j := range top {
					if top[j] == t {
						top[j] = d
					}
				}
			}
			table[subj] = d
		}
	}
	return out
}

// sortDeep sorts n's descendants by date, the deepest sets first.
func (n *threadNode) sortDeep() {
	for _, c := range n.children {
		c.sortDeep()
	}
	slices.SortStableFunc(n.children, dateOrder)
}

// messageIDs returns the message ids ("<...>" without the brackets and
// white space) of a Message-ID, References or In-Reply-To value.
func messageIDs(v string) []string {
	var out []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return out
		}
		id := strings.Join(strings.Fields(v[i+1:i+j]), "")
		if strings.Contains(id, "@") || id != "" {
			out = append(out, id)
		}
		v = v[i+j+1:]
	}
}

// firstMessageID returns the first message id of a value, or "".
func firstMessageID(v string) string {
	if ids := messageIDs(v); len(ids) > 0 {
		return ids[0]
	}
	return ""
}
