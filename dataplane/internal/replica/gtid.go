package replica

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Behind counts the transactions the source has logged that the replica has not applied, from
// their GTID positions: MariaDB's lists (domain-server-sequence, one a domain) or MySQL's sets
// (uuid:interval[:interval...], one a server). An error when either does not read as a position.
func Behind(source, applied string) (int64, error) {
	if strings.Contains(source, ":") || strings.Contains(applied, ":") {
		return behindMySQL(source, applied)
	}
	return behindMariaDB(source, applied)
}

// mariaDBPosition is a MariaDB GTID position: a sequence number a replication domain.
func mariaDBPosition(text string) (map[uint64]uint64, error) {
	position := map[uint64]uint64{}
	for _, item := range strings.Split(text, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, "-")
		if len(parts) != 3 {
			return nil, fmt.Errorf("%q is not a MariaDB GTID (domain-server-sequence)", item)
		}
		var numbers [3]uint64
		for i, part := range parts {
			n, err := strconv.ParseUint(part, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a MariaDB GTID (domain-server-sequence)", item)
			}
			numbers[i] = n
		}
		if _, twice := position[numbers[0]]; twice {
			return nil, fmt.Errorf("domain %d appears twice in %q", numbers[0], text)
		}
		position[numbers[0]] = numbers[2]
	}
	return position, nil
}

func behindMariaDB(source, applied string) (int64, error) {
	at, err := mariaDBPosition(source)
	if err != nil {
		return 0, err
	}
	done, err := mariaDBPosition(applied)
	if err != nil {
		return 0, err
	}
	var behind int64
	for domain, sequence := range at {
		if sequence > done[domain] {
			behind += int64(sequence - done[domain])
		}
	}
	return behind, nil
}

// interval is [first, last] of transaction numbers of one server.
type interval struct{ first, last uint64 }

// mySQLSet is a MySQL GTID set: intervals by server UUID.
func mySQLSet(text string) (map[string][]interval, error) {
	set := map[string][]interval{}
	for _, item := range strings.Split(strings.ReplaceAll(text, "\n", ""), ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		if len(parts) < 2 || len(parts[0]) != 36 {
			return nil, fmt.Errorf("%q is not a MySQL GTID set (uuid:interval...)", item)
		}
		uuid := strings.ToLower(parts[0])
		for _, part := range parts[1:] {
			first, last, isRange := strings.Cut(part, "-")
			if !isRange {
				last = first
			}
			a, errA := strconv.ParseUint(first, 10, 64)
			b, errB := strconv.ParseUint(last, 10, 64)
			if errA != nil || errB != nil || a == 0 || b < a {
				return nil, fmt.Errorf("%q is not a MySQL GTID interval", part)
			}
			set[uuid] = append(set[uuid], interval{a, b})
		}
	}
	for uuid, intervals := range set {
		set[uuid] = merged(intervals)
	}
	return set, nil
}

// merged is intervals sorted, with those that overlap or touch made one.
func merged(intervals []interval) []interval {
	slices.SortFunc(intervals, func(a, b interval) int { return cmp.Compare(a.first, b.first) })
	out := intervals[:0]
	for _, next := range intervals {
		if n := len(out); n > 0 && next.first <= out[n-1].last+1 {
			out[n-1].last = max(out[n-1].last, next.last)
			continue
		}
		out = append(out, next)
	}
	return out
}

func behindMySQL(source, applied string) (int64, error) {
	at, err := mySQLSet(source)
	if err != nil {
		return 0, err
	}
	done, err := mySQLSet(applied)
	if err != nil {
		return 0, err
	}
	var behind int64
	for uuid, intervals := range at {
		for _, wanted := range intervals {
			missing := wanted.last - wanted.first + 1
			for _, have := range done[uuid] {
				first, last := max(wanted.first, have.first), min(wanted.last, have.last)
				if first <= last {
					missing -= last - first + 1
				}
			}
			behind += int64(missing)
		}
	}
	return behind, nil
}
