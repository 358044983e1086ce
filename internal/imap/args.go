package imap

// Argument parsers of the commands ReadCommand knows (RFC 9051 §6 and the
// extensions listed in the package comment).

func (r *Reader) args(cmd *Command) (any, error) {
	switch cmd.Name {
	case "LOGIN":
		a := &LoginArgs{}
		var err error
		if a.Username, err = r.AString(); err != nil {
			return nil, err
		}
		if err = r.SP(); err != nil {
			return nil, err
		}
		a.Password, err = r.AString()
		return a, err
	case "AUTHENTICATE":
		return r.authenticateArgs()
	case "ENABLE":
		a := &EnableArgs{}
		for {
			c, err := r.Atom()
			if err != nil {
				return nil, err
			}
			a.Capabilities = append(a.Capabilities, toUpper(c))
			if r.AtEOL() {
				return a, nil
			}
			if err := r.SP(); err != nil {
				return nil, err
			}
		}
	case "SELECT", "EXAMINE":
		return r.selectArgs()
	case "CREATE":
		return r.createArgs()
	case "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "GETQUOTAROOT":
		m, err := r.Mailbox()
		return &MailboxArgs{Mailbox: m}, err
	case "RENAME":
		a := &RenameArgs{}
		var err error
		if a.From, err = r.Mailbox(); err != nil {
			return nil, err
		}
		if err = r.SP(); err != nil {
			return nil, err
		}
		a.To, err = r.Mailbox()
		return a, err
	case "LIST", "LSUB":
		return r.listArgs(cmd.Name == "LIST")
	case "STATUS":
		a := &StatusArgs{}
		var err error
		if a.Mailbox, err = r.Mailbox(); err != nil {
			return nil, err
		}
		if err = r.SP(); err != nil {
			return nil, err
		}
		a.Items, err = r.atomList(false)
		return a, err
	case "APPEND":
		return r.appendArgs()
	case "SEARCH":
		return r.searchArgs()
	case "FETCH":
		return r.fetchArgs()
	case "STORE":
		return r.storeArgs()
	case "COPY", "MOVE":
		a := &CopyArgs{}
		var err error
		if a.Set, err = r.SeqSet(); err != nil {
			return nil, err
		}
		if err = r.SP(); err != nil {
			return nil, err
		}
		a.Mailbox, err = r.Mailbox()
		return a, err
	case "EXPUNGE": // UID EXPUNGE
		set, err := r.SeqSet()
		return &ExpungeArgs{Set: set}, err
	case "ID":
		return r.idArgs()
	case "GETQUOTA":
		root, err := r.AString()
		return &QuotaArgs{Root: root}, err
	case "SETQUOTA":
		return r.setQuotaArgs()
	}
	return nil, r.bad("unknown command %s", cmd.Name)
}

// atomList reads "(" atom *(SP atom) ")" in upper case; empty lists only
// when emptyOK.
func (r *Reader) atomList(emptyOK bool) ([]string, error) {
	items := []string{}
	err := r.List(func() error {
		a, err := r.Atom()
		items = append(items, toUpper(a))
		return err
	})
	if err == nil && len(items) == 0 && !emptyOK {
		err = r.bad("empty list")
	}
	return items, err
}

func (r *Reader) authenticateArgs() (*AuthenticateArgs, error) {
	mech, err := r.Atom()
	if err != nil {
		return nil, err
	}
	a := &AuthenticateArgs{Mechanism: toUpper(mech)}
	if r.AtEOL() {
		return a, nil
	}
	if err := r.SP(); err != nil {
		return nil, err
	}
	ir, err := r.chars(func(c byte) bool {
		return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || isDigit(c) || c == '+' || c == '/' || c == '='
	}, "initial response")
	if err != nil {
		return nil, err
	}
	a.InitialResponse, a.HasInitialResponse = ir, true
	return a, nil
}

func (r *Reader) selectArgs() (*SelectArgs, error) {
	m, err := r.Mailbox()
	if err != nil {
		return nil, err
	}
	a := &SelectArgs{Mailbox: m}
	if r.AtEOL() {
		return a, nil
	}
	if err := r.SP(); err != nil {
		return nil, err
	}
	err = r.List(func() error {
		p, err := r.Atom()
		if err != nil {
			return err
		}
		switch toUpper(p) {
		case "CONDSTORE":
			a.CondStore = true
			return nil
		case "QRESYNC":
			if err := r.SP(); err != nil {
				return err
			}
			a.QResync, err = r.qresync()
			return err
		}
		return r.bad("unknown SELECT parameter")
	})
	return a, err
}

func (r *Reader) qresync() (*QResyncArgs, error) {
	q := &QResyncArgs{}
	if err := r.Expect('('); err != nil {
		return nil, err
	}
	var err error
	if q.UIDValidity, err = r.NZNumber(); err != nil {
		return nil, err
	}
	if err = r.SP(); err != nil {
		return nil, err
	}
	if q.ModSeq, err = r.Number64(); err != nil {
		return nil, err
	}
	if q.ModSeq == 0 {
		return nil, r.bad("QRESYNC mod-sequence must not be zero")
	}
	if r.maybe(' ') && r.peek() != '(' {
		set, err := r.SeqSet()
		if err != nil {
			return nil, err
		}
		q.KnownUIDs = &set
		r.maybe(' ')
	}
	if r.maybe('(') {
		a, err := r.SeqSet()
		if err != nil {
			return nil, err
		}
		if err = r.SP(); err != nil {
			return nil, err
		}
		b, err := r.SeqSet()
		if err != nil {
			return nil, err
		}
		q.KnownSeqs, q.KnownSeqUIDs = &a, &b
		if err = r.Expect(')'); err != nil {
			return nil, err
		}
	}
	return q, r.Expect(')')
}

func (r *Reader) createArgs() (*CreateArgs, error) {
	m, err := r.Mailbox()
	if err != nil {
		return nil, err
	}
	a := &CreateArgs{Mailbox: m}
	if r.AtEOL() {
		return a, nil
	}
	if err := r.SP(); err != nil {
		return nil, err
	}
	err = r.List(func() error {
		p, err := r.Atom()
		if err != nil {
			return err
		}
		if toUpper(p) != "USE" {
			return r.bad("unknown CREATE parameter")
		}
		if err := r.SP(); err != nil {
			return err
		}
		a.Use = []string{}
		return r.List(func() error {
			f, err := r.Flag()
			a.Use = append(a.Use, f)
			return err
		})
	})
	return a, err
}

func (r *Reader) listArgs(extended bool) (*ListArgs, error) {
	a := &ListArgs{}
	var err error
	if extended && r.peek() == '(' {
		if a.Selection, err = r.atomList(true); err != nil {
			return nil, err
		}
		if err = r.SP(); err != nil {
			return nil, err
		}
	}
	if a.Reference, err = r.AString(); err != nil {
		return nil, err
	}
	if err = r.SP(); err != nil {
		return nil, err
	}
	if extended && r.peek() == '(' {
		err = r.List(func() error {
			p, err := r.ListMailbox()
			a.Patterns = append(a.Patterns, p)
			return err
		})
		if err == nil && len(a.Patterns) == 0 {
			err = r.bad("empty pattern list")
		}
	} else {
		var p string
		p, err = r.ListMailbox()
		a.Patterns = []string{p}
	}
	if err != nil || !extended || r.AtEOL() {
		return a, err
	}
	if err = r.SP(); err != nil {
		return nil, err
	}
	kw, err := r.Atom()
	if err != nil {
		return nil, err
	}
	if toUpper(kw) != "RETURN" {
		return nil, r.bad("expected RETURN")
	}
	if err = r.SP(); err != nil {
		return nil, err
	}
	a.Return = []string{}
	err = r.List(func() error {
		o, err := r.Atom()
		if err != nil {
			return err
		}
		o = toUpper(o)
		a.Return = append(a.Return, o)
		if o == "STATUS" {
			if err := r.SP(); err != nil {
				return err
			}
			a.StatusItems, err = r.atomList(false)
		}
		return err
	})
	return a, err
}

func (r *Reader) searchArgs() (*SearchArgs, error) {
	a := &SearchArgs{}
	name, err := r.searchWord()
	if err != nil {
		return nil, err
	}
	if name == "RETURN" {
		if err := r.SP(); err != nil {
			return nil, err
		}
		if a.Return, err = r.atomList(true); err != nil {
			return nil, err
		}
		if err := r.SP(); err != nil {
			return nil, err
		}
		if name, err = r.searchWord(); err != nil {
			return nil, err
		}
	}
	if name == "CHARSET" {
		if err := r.SP(); err != nil {
			return nil, err
		}
		if r.peek() == '"' {
			a.Charset, err = r.Quoted()
		} else {
			a.Charset, err = r.Atom()
		}
		if err != nil {
			return nil, err
		}
		if err := r.SP(); err != nil {
			return nil, err
		}
		name = ""
	}
	var keys []SearchKey
	for {
		var k SearchKey
		if name != "" {
			k, err = r.searchKeyNamed(name, 0)
			name = ""
		} else {
			k, err = r.searchKey(0)
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
		if r.AtEOL() {
			break
		}
		if err := r.SP(); err != nil {
			return nil, err
		}
	}
	a.Key = keys[0]
	if len(keys) > 1 {
		a.Key = SearchKey{Key: "AND", Keys: keys}
	}
	return a, nil
}

// searchWord reads an upper-cased atom if one comes next, else "".
func (r *Reader) searchWord() (string, error) {
	c := upper(r.peek())
	if c < 'A' || c > 'Z' {
		return "", nil
	}
	w, err := r.Atom()
	return toUpper(w), err
}

func (r *Reader) fetchArgs() (*FetchArgs, error) {
	a := &FetchArgs{}
	var err error
	if a.Set, err = r.SeqSet(); err != nil {
		return nil, err
	}
	if err = r.SP(); err != nil {
		return nil, err
	}
	if a.Items, err = r.FetchItems(); err != nil {
		return nil, err
	}
	if r.AtEOL() {
		return a, nil
	}
	if err = r.SP(); err != nil {
		return nil, err
	}
	err = r.List(func() error {
		m, err := r.Atom()
		if err != nil {
			return err
		}
		switch toUpper(m) {
		case "CHANGEDSINCE":
			if err := r.SP(); err != nil {
				return err
			}
			if a.ChangedSince, err = r.Number64(); err == nil && a.ChangedSince == 0 {
				err = r.bad("CHANGEDSINCE must not be zero")
			}
			return err
		case "VANISHED":
			a.Vanished = true
			return nil
		}
		return r.bad("unknown FETCH modifier")
	})
	return a, err
}

func (r *Reader) storeArgs() (*StoreArgs, error) {
	a := &StoreArgs{}
	var err error
	if a.Set, err = r.SeqSet(); err != nil {
		return nil, err
	}
	if err = r.SP(); err != nil {
		return nil, err
	}
	if r.peek() == '(' {
		err = r.List(func() error {
			m, err := r.Atom()
			if err != nil {
				return err
			}
			if toUpper(m) != "UNCHANGEDSINCE" {
				return r.bad("unknown STORE modifier")
			}
			if err := r.SP(); err != nil {
				return err
			}
			a.UnchangedSince, err = r.Number64()
			a.HasUnchanged = true
			return err
		})
		if err != nil {
			return nil, err
		}
		if err = r.SP(); err != nil {
			return nil, err
		}
	}
	switch {
	case r.maybe('+'):
		a.Op = StoreAdd
	case r.maybe('-'):
		a.Op = StoreRemove
	}
	item, err := r.Atom()
	if err != nil {
		return nil, err
	}
	switch toUpper(item) {
	case "FLAGS":
	case "FLAGS.SILENT":
		a.Silent = true
	default:
		return nil, r.bad("unknown STORE item")
	}
	if err = r.SP(); err != nil {
		return nil, err
	}
	if r.peek() == '(' {
		a.Flags, err = r.FlagList()
		return a, err
	}
	a.Flags = []string{}
	for {
		f, err := r.Flag()
		if err != nil {
			return nil, err
		}
		a.Flags = append(a.Flags, f)
		if r.AtEOL() {
			return a, nil
		}
		if err := r.SP(); err != nil {
			return nil, err
		}
	}
}

func (r *Reader) idArgs() (*IDArgs, error) {
	if r.peek() != '(' {
		a, err := r.Atom()
		if err == nil && !eqFold(a, "NIL") {
			err = r.bad("expected ID parameter list")
		}
		return &IDArgs{}, err
	}
	a := &IDArgs{Fields: []string{}, Values: []string{}, HasValue: []bool{}}
	err := r.List(func() error {
		f, err := r.String()
		if err != nil {
			return err
		}
		if err := r.SP(); err != nil {
			return err
		}
		v, ok, err := r.NString()
		a.Fields = append(a.Fields, f)
		a.Values = append(a.Values, v)
		a.HasValue = append(a.HasValue, ok)
		return err
	})
	return a, err
}

func (r *Reader) setQuotaArgs() (*SetQuotaArgs, error) {
	a := &SetQuotaArgs{Resources: []string{}, Limits: []uint64{}}
	var err error
	if a.Root, err = r.AString(); err != nil {
		return nil, err
	}
	if err = r.SP(); err != nil {
		return nil, err
	}
	err = r.List(func() error {
		res, err := r.Atom()
		if err != nil {
			return err
		}
		if err := r.SP(); err != nil {
			return err
		}
		n, err := r.Number64()
		a.Resources = append(a.Resources, toUpper(res))
		a.Limits = append(a.Limits, n)
		return err
	})
	return a, err
}
