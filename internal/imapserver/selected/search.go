package selected

import (
	"context"
	"strings"

	"github.com/posthorn/posthorn/internal/imap"
)

// Search is SearchTagged without a search correlator; the session should
// call SearchTagged, since ESEARCH responses carry the command's tag (RFC
// 4731 §3.1, RFC 9051 §7.3.4).
func (v *View) Search(ctx context.Context, w *imap.Writer, args *imap.SearchArgs, uid bool) (Result, error) {
	return v.SearchTagged(ctx, w, "", args, uid)
}

// SearchTagged is SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501
// §6.4.4) with every key of the codec's grammar, the ESEARCH return
// options MIN, MAX, ALL, COUNT (RFC 4731) and SAVE (RFC 5182), and the
// MODSEQ key and result (RFC 7162 §3.1.5). tag is the command's tag, for
// the ESEARCH correlator. Without RETURN an IMAP4rev2 client gets ESEARCH
// ALL (RFC 9051 §6.4.4), an IMAP4rev1 client the SEARCH response.
// Charsets other than UTF-8 and US-ASCII are refused with NO [BADCHARSET].
func (v *View) SearchTagged(ctx context.Context, w *imap.Writer, tag string, args *imap.SearchArgs, uid bool) (Result, error) {
	switch strings.ToUpper(args.Charset) {
	case "", "UTF-8", "US-ASCII":
	default:
		return Result{}, &imap.Error{Status: imap.NO, Code: "BADCHARSET (UTF-8 US-ASCII)", Text: "Unsupported charset"}
	}
	var opts struct{ min, max, all, count, save bool }
	for _, o := range args.Return {
		switch o {
		case "MIN":
			opts.min = true
		case "MAX":
			opts.max = true
		case "ALL":
			opts.all = true
		case "COUNT":
			opts.count = true
		case "SAVE":
			opts.save = true
		default:
			return Result{}, &imap.Error{Status: imap.BAD, Text: "Unknown search return option " + o}
		}
	}
	esearch := args.Return != nil || v.caps.Rev2
	if esearch && !opts.min && !opts.max && !opts.count && (!opts.save || len(args.Return) == 0) {
		// RETURN () and a rev2 SEARCH without RETURN mean ALL (RFC 4731 §3.1).
		opts.all = opts.all || !opts.save
	}
	if uid {
		if err := v.announceNew(ctx, w); err != nil {
			return Result{}, err
		}
	}
	q, err := v.compile(&args.Key)
	if err != nil {
		return Result{}, err
	}
	if q.modseq {
		v.caps.CondStore = true
	}
	matches, err := v.run(ctx, q)
	if err != nil {
		return Result{}, err
	}
	var highest uint64
	for _, m := range matches {
		highest = max(highest, m.modseq)
	}
	num := func(m match) uint32 {
		if uid {
			return m.uid
		}
		return m.seq
	}
	if opts.save {
		// RFC 5182 §2.1: with only MIN and/or MAX, only those are saved.
		v.saved = v.saved[:0]
		if !opts.all && !opts.count && (opts.min || opts.max) {
			if len(matches) > 0 {
				if opts.min {
					v.saved = append(v.saved, matches[0].uid)
				}
				if opts.max && (!opts.min || len(matches) > 1) {
					v.saved = append(v.saved, matches[len(matches)-1].uid)
				}
			}
		} else {
			for _, m := range matches {
				v.saved = append(v.saved, m.uid)
			}
		}
	}
	if !esearch {
		w.Untagged()
		w.Atom("SEARCH")
		for _, m := range matches {
			w.SP()
			w.Number(num(m))
		}
		if q.modseq && len(matches) > 0 {
			w.Atom(" (MODSEQ ")
			w.Number64(highest)
			w.Atom(")")
		}
		w.CRLF()
		return Result{Text: "Search completed"}, w.Err()
	}
	if opts.save && !opts.min && !opts.max && !opts.all && !opts.count {
		// RFC 5182 §2.4: SAVE alone returns no ESEARCH.
		return Result{Text: "Search completed"}, nil
	}
	w.Untagged()
	w.Atom("ESEARCH")
	if tag != "" {
		w.Atom(" (TAG ")
		w.String(tag)
		w.Atom(")")
	}
	if uid {
		w.Atom(" UID")
	}
	if len(matches) > 0 {
		if opts.min {
			w.Atom(" MIN ")
			w.Number(num(matches[0]))
		}
		if opts.max {
			w.Atom(" MAX ")
			w.Number(num(matches[len(matches)-1]))
		}
	}
	if opts.count {
		w.Atom(" COUNT ")
		w.Number(uint32(len(matches)))
	}
	if opts.all && len(matches) > 0 {
		nums := make([]uint32, len(matches))
		for i, m := range matches {
			nums[i] = num(m)
		}
		w.Atom(" ALL ")
		w.SeqSet(imap.SeqSetOf(nums))
	}
	if q.modseq && len(matches) > 0 {
		w.Atom(" MODSEQ ")
		w.Number64(highest)
	}
	w.CRLF()
	return Result{Text: "Search completed"}, w.Err()
}
