package imap

import (
	"math"
	"slices"
	"testing"
)

func TestParseSeqSet(t *testing.T) {
	good := map[string]SeqSet{
		"1":          {Ranges: []SeqRange{{1, 1}}},
		"*":          {Ranges: []SeqRange{{Star, Star}}},
		"1:*":        {Ranges: []SeqRange{{1, Star}}},
		"4:2,7,9:*":  {Ranges: []SeqRange{{4, 2}, {7, 7}, {9, Star}}},
		"$":          {Saved: true},
		"4294967295": {Ranges: []SeqRange{{math.MaxUint32, math.MaxUint32}}},
	}
	for in, want := range good {
		got, err := ParseSeqSet(in)
		if err != nil || !equalSet(got, want) {
			t.Errorf("ParseSeqSet(%q) = %v, %v", in, got, err)
		}
		if got.String() != in {
			t.Errorf("String() = %q, want %q", got.String(), in)
		}
	}
	for _, in := range []string{"", "0", "1:0", ",", "1,", ",1", "1::2", "1:2:3", "$,1", "4294967296", "a", "01", "1 2", "**"} {
		if s, err := ParseSeqSet(in); err == nil {
			t.Errorf("ParseSeqSet(%q) = %v, want error", in, s)
		}
	}
}

func equalSet(a, b SeqSet) bool { return a.Saved == b.Saved && slices.Equal(a.Ranges, b.Ranges) }

func TestResolve(t *testing.T) {
	tests := []struct {
		in   string
		last uint32
		want string
	}{
		{"1:*", 5, "1:5"},
		{"*", 5, "5"},
		{"*:3", 5, "3:5"},
		{"7:9,1:3,2:4,5", 10, "1:5,7:9"},
		{"1,2,3,5,6", 10, "1:3,5:6"},
		{"8:20", 10, "8:10"},
		{"11:20", 10, ""},
		// RFC 9051 §6.4.8: n:* includes the last UID even when n is larger.
		{"559:*", 100, "100"},
		{"1:*", 0, ""},
		{"4294967295:1", math.MaxUint32, "1:4294967295"},
	}
	for _, tt := range tests {
		got := set(t, tt.in).Resolve(tt.last)
		if got.String() != tt.want {
			t.Errorf("Resolve(%q, %d) = %q, want %q", tt.in, tt.last, got, tt.want)
		}
	}
}

func TestContainsSelectAll(t *testing.T) {
	s := set(t, "2:4,10,20:*").Resolve(25)
	var in []uint32
	for n := uint32(0); n <= 30; n++ {
		if s.Contains(n) {
			in = append(in, n)
		}
	}
	want := []uint32{2, 3, 4, 10, 20, 21, 22, 23, 24, 25}
	if !slices.Equal(in, want) {
		t.Errorf("Contains: %v", in)
	}
	if all := slices.Collect(s.All()); !slices.Equal(all, want) {
		t.Errorf("All: %v", all)
	}
	if s.Count() != uint64(len(want)) {
		t.Errorf("Count = %d", s.Count())
	}
	uids := []uint32{1, 3, 4, 9, 10, 11, 19, 22, 30}
	var idx []int
	for i := range s.Select(uids) {
		idx = append(idx, i)
	}
	if !slices.Equal(idx, []int{1, 2, 4, 7}) {
		t.Errorf("Select: %v", idx)
	}
	// Early stop.
	for range s.Select(uids) {
		break
	}
}

// The operations are O(ranges): 1:* over four billion UIDs is instant.
func TestHugeRanges(t *testing.T) {
	s := set(t, "1:*").Resolve(math.MaxUint32)
	if s.Count() != math.MaxUint32 || !s.Contains(math.MaxUint32) || s.Contains(0) {
		t.Fatalf("%v: count %d", s, s.Count())
	}
	n := 0
	for range s.All() {
		if n++; n == 3 {
			break
		}
	}
	if got := slices.Collect(s.Select([]uint32{5, math.MaxUint32})); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("Select: %v", got)
	}
}

func TestSeqSetOf(t *testing.T) {
	got := SeqSetOf([]uint32{9, 1, 2, 3, 3, 7, 8, 0, 20})
	if got.String() != "1:3,7:9,20" {
		t.Errorf("got %s", got)
	}
	if SeqSetOf(nil).String() != "" {
		t.Error("empty")
	}
}

func TestDynamicLargest(t *testing.T) {
	s := set(t, "3:7,12")
	if s.Dynamic() || s.Largest() != 12 {
		t.Errorf("%v", s)
	}
	if !set(t, "3:*").Dynamic() {
		t.Error("3:* not dynamic")
	}
}

func BenchmarkSeqSetContains(b *testing.B) {
	var nums []uint32
	for i := uint32(1); i < 200000; i += 3 {
		nums = append(nums, i)
	}
	s := SeqSetOf(nums) // 66,667 ranges
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s.Contains(uint32(i % 200000))
	}
}

func BenchmarkResolveAll(b *testing.B) {
	s := set(b, "1:*")
	for b.Loop() {
		r := s.Resolve(100000)
		if r.Count() != 100000 {
			b.Fatal(r)
		}
	}
}

func BenchmarkSelect100k(b *testing.B) {
	uids := make([]uint32, 100000)
	for i := range uids {
		uids[i] = uint32(i*2 + 1)
	}
	s := set(b, "1000:2000,50000:*").Resolve(uids[len(uids)-1])
	for b.Loop() {
		n := 0
		for range s.Select(uids) {
			n++
		}
		if n != 75500 {
			b.Fatal(n)
		}
	}
}
