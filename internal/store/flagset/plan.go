package flagset

import "github.com/posthorn/posthorn/internal/store"

// Group is the messages one STORE gives the same flags: a backend writes
// each group with one statement (and one for its change-log entries).
type Group struct {
	Flags Set
	List  []string // Flags.List(), shared by the group's results
	IDs   []int64
	UIDs  []uint32
	At    []int // indexes into the plan's Updated
}

// Plan is what store.Mail.UpdateFlags does to the messages it found.
type Plan struct {
	// Updated are the messages not failed, in the order given, with
	// their flags after the call; those of a group take its new MODSEQ
	// (SetModSeq), the others keep theirs.
	Updated []store.Message
	Failed  []uint32 // UIDs refused by UNCHANGEDSINCE
	Groups  []*Group // the messages whose flags change, in a fixed order
}

// PlanStore applies op with arg to msgs (whose current flags are cur),
// checking unchangedSince as UpdateFlags documents. msgs' Flags slices
// are not modified.
func PlanStore(msgs []store.Message, cur []Set, op store.FlagOp, arg Set, unchangedSince uint64) Plan {
	var p Plan
	type key struct {
		sys      int64
		keywords string
	}
	groups := map[key]*Group{}
	for i, m := range msgs {
		if unchangedSince == store.UnchangedSinceZero || (unchangedSince > 0 && m.ModSeq > unchangedSince) {
			p.Failed = append(p.Failed, m.UID)
			continue
		}
		next := cur[i].Apply(op, arg)
		if !next.Equal(cur[i]) {
			k := key{next.Sys, next.KeywordText()}
			g := groups[k]
			if g == nil {
				g = &Group{Flags: next, List: next.List()}
				groups[k] = g
				p.Groups = append(p.Groups, g)
			}
			g.IDs, g.UIDs = append(g.IDs, m.ID), append(g.UIDs, m.UID)
			m.Flags = g.List
			p.Updated = append(p.Updated, m)
			g.At = append(g.At, len(p.Updated)-1)
			continue
		}
		p.Updated = append(p.Updated, m)
	}
	return p
}

// SetModSeq gives the changed messages of Updated their new MODSEQ.
func (p *Plan) SetModSeq(modseq uint64) {
	for _, g := range p.Groups {
		for _, i := range g.At {
			p.Updated[i].ModSeq = modseq
		}
	}
}
