package imap

import (
	"strconv"
	"time"
)

const months = "JanFebMarAprMayJunJulAugSepOctNovDec"

func parseMonth(s string) (time.Month, bool) {
	for i := 0; i < 12; i++ {
		if eqFold(s, months[3*i:3*i+3]) {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

// Date reads a date (RFC 9051 §9: date-text or DQUOTE date-text DQUOTE,
// date-text = date-day "-" date-month "-" date-year) as midnight UTC.
func (r *Reader) Date() (time.Time, error) {
	var s string
	var err error
	if r.peek() == '"' {
		s, err = r.Quoted()
	} else {
		s, err = r.chars(func(c byte) bool { return isAtomChar(c) }, "date")
	}
	if err != nil {
		return time.Time{}, err
	}
	t, ok := parseDateText(s)
	if !ok {
		return time.Time{}, r.bad("invalid date")
	}
	return t, nil
}

func parseDateText(s string) (time.Time, bool) {
	i := 0
	for i < len(s) && i < 2 && isDigit(s[i]) {
		i++
	}
	if i == 0 || len(s) != i+9 || s[i] != '-' || s[i+4] != '-' {
		return time.Time{}, false
	}
	day, _ := strconv.Atoi(s[:i])
	mon, ok := parseMonth(s[i+1 : i+4])
	if !ok {
		return time.Time{}, false
	}
	year, err := strconv.Atoi(s[i+5:])
	if err != nil || year < 0 || !allDigits(s[i+5:]) {
		return time.Time{}, false
	}
	t := time.Date(year, mon, day, 0, 0, 0, 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, false
	}
	return t, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// DateTime reads a date-time (RFC 9051 §9): DQUOTE date-day-fixed "-"
// date-month "-" date-year SP time SP zone DQUOTE, e.g.
// " 7-Feb-1994 21:52:25 -0800".
func (r *Reader) DateTime() (time.Time, error) {
	s, err := r.Quoted()
	if err != nil {
		return time.Time{}, err
	}
	t, ok := parseDateTime(s)
	if !ok {
		return time.Time{}, r.bad("invalid date-time")
	}
	return t, nil
}

func parseDateTime(s string) (time.Time, bool) {
	// dd-Mon-yyyy hh:mm:ss +zzzz, 26 octets; day may be " d".
	if len(s) != 26 || s[2] != '-' || s[6] != '-' || s[11] != ' ' || s[14] != ':' || s[17] != ':' || s[20] != ' ' {
		return time.Time{}, false
	}
	var day int
	switch {
	case s[0] == ' ' && isDigit(s[1]):
		day = int(s[1] - '0')
	case isDigit(s[0]) && isDigit(s[1]):
		day = int(s[0]-'0')*10 + int(s[1]-'0')
	default:
		return time.Time{}, false
	}
	mon, ok := parseMonth(s[3:6])
	if !ok {
		return time.Time{}, false
	}
	num := func(a, b int) (int, bool) {
		if !allDigits(s[a:b]) {
			return 0, false
		}
		n, err := strconv.Atoi(s[a:b])
		return n, err == nil
	}
	year, ok1 := num(7, 11)
	hh, ok2 := num(12, 14)
	mm, ok3 := num(15, 17)
	ss, ok4 := num(18, 20)
	zh, ok5 := num(22, 24)
	zm, ok6 := num(24, 26)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || hh > 23 || mm > 59 || ss > 60 || zm > 59 {
		return time.Time{}, false
	}
	off := (zh*60 + zm) * 60
	switch s[21] {
	case '-':
		off = -off
	case '+':
	default:
		return time.Time{}, false
	}
	t := time.Date(year, mon, day, hh, mm, ss, 0, time.FixedZone("", off))
	if t.Day() != day {
		return time.Time{}, false
	}
	return t, true
}

// AppendDate appends t's date as date-text, e.g. 1-Feb-1994.
func AppendDate(b []byte, t time.Time) []byte {
	b = strconv.AppendInt(b, int64(t.Day()), 10)
	b = append(b, '-')
	m := int(t.Month()-1) * 3
	b = append(b, months[m:m+3]...)
	b = append(b, '-')
	return appendPad(b, t.Year(), 4)
}

// AppendDateTime appends t as a quoted date-time, e.g.
// "17-Jul-1996 02:44:25 -0700".
func AppendDateTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	if t.Day() < 10 {
		b = append(b, ' ')
	}
	b = AppendDate(b, t)
	b = append(b, ' ')
	b = appendPad(b, t.Hour(), 2)
	b = append(b, ':')
	b = appendPad(b, t.Minute(), 2)
	b = append(b, ':')
	b = appendPad(b, t.Second(), 2)
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, ' ', sign)
	b = appendPad(b, off/3600, 2)
	b = appendPad(b, off/60%60, 2)
	return append(b, '"')
}

func appendPad(b []byte, n, width int) []byte {
	s := strconv.Itoa(n)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
