package main

import "testing"

func TestCompare(t *testing.T) {
	cases := []struct {
		name         string
		acknowledged []int64
		present      []int64
		counter      int64
		want         Checked
	}{
		{"every acknowledged token once", []int64{1, 2, 3}, []int64{3, 1, 2}, 3,
			Checked{Acknowledged: 3, Present: 3, Counter: 3, OK: true}},
		{"a commit whose answer was lost, held", []int64{1, 3}, []int64{1, 2, 3}, 3,
			Checked{Acknowledged: 2, Present: 3, Unacknowledged: 1, Counter: 3, OK: true}},
		{"an acknowledged token lost", []int64{1, 2, 3}, []int64{1, 3}, 2,
			Checked{Acknowledged: 3, Present: 2, Lost: 1, Counter: 2}},
		{"a token applied twice", []int64{1, 2}, []int64{1, 2, 2, 2}, 4,
			Checked{Acknowledged: 2, Present: 4, Duplicated: 1, Counter: 4}},
		{"an update lost, its insert kept", []int64{1, 2}, []int64{1, 2}, 1,
			Checked{Acknowledged: 2, Present: 2, Counter: 1}},
		{"an update applied twice", []int64{1, 2}, []int64{1, 2}, 3,
			Checked{Acknowledged: 2, Present: 2, Counter: 3}},
		{"nothing written", nil, nil, 0, Checked{OK: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Compare(c.acknowledged, c.present, c.counter); got != c.want {
				t.Fatalf("Compare = %+v, want %+v", got, c.want)
			}
		})
	}
}
