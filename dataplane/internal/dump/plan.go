package dump

import (
	"fmt"
	"sort"
)

// Table is one table or view of the source, as the plan sees it.
type Table struct {
	Database string
	Name     string
	View     bool
	// Engine is the table's storage engine ("" for a view).
	Engine string
	// Bytes is the server's estimate of the table's data and index size.
	Bytes int64
	// Cost estimates the table's import time, in rows: each secondary index costs about 0.77 of a
	// row's insert and every 150 bytes about one row (fitted to per-table import times of bench/'s
	// dataset). The server's figures are estimates, which is all the balancing needs.
	Cost float64
}

// ForeignKey joins a child table to its parent.
type ForeignKey struct {
	Database, Table, ParentDatabase, ParentTable string
}

// Stream is one dump stream of the plan: its name and the tables and views it holds.
type Stream struct {
	Name   string
	Tables []Table
}

func key(database, name string) string { return database + "\x00" + name }

// Plan deals the tables out to at most parallelism data streams and puts the views in the
// "definitions" stream, which also carries the routines and events and is imported last.
// Tables joined by foreign keys stay in one stream: loaded side by side, the server refuses to
// lock a parent while a child is being created elsewhere. The costliest group goes first, each to
// the stream with the least cost so far.
func Plan(tables []Table, foreignKeys []ForeignKey, parallelism int) []Stream {
	parent := map[string]string{}
	var root func(string) string
	root = func(k string) string {
		for {
			p, ok := parent[k]
			if !ok {
				return k
			}
			k = p
		}
	}
	for _, fk := range foreignKeys {
		a, b := root(key(fk.Database, fk.Table)), root(key(fk.ParentDatabase, fk.ParentTable))
		if a != b {
			parent[a] = b
		}
	}
	type group struct {
		root   string
		cost   float64
		tables []Table
	}
	groups := map[string]*group{}
	var order []*group
	var views []Table
	for _, t := range tables {
		if t.View {
			views = append(views, t)
			continue
		}
		r := root(key(t.Database, t.Name))
		g, ok := groups[r]
		if !ok {
			g = &group{root: r}
			groups[r] = g
			order = append(order, g)
		}
		g.cost += t.Cost
		g.tables = append(g.tables, t)
	}
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].cost != order[j].cost {
			return order[i].cost > order[j].cost
		}
		return order[i].root < order[j].root
	})
	n := min(parallelism, len(order))
	streams := make([]Stream, 0, n+1)
	costs := make([]float64, n)
	for i := 0; i < n; i++ {
		streams = append(streams, Stream{Name: fmt.Sprintf("data-%d", i+1)})
	}
	for _, g := range order {
		best := 0
		for i := 1; i < n; i++ {
			if costs[i] < costs[best] {
				best = i
			}
		}
		costs[best] += g.cost
		streams[best].Tables = append(streams[best].Tables, g.tables...)
	}
	return append(streams, Stream{Name: "definitions", Tables: views})
}

// IgnoreArguments are the dump tool's --ignore-table arguments for every table and view of the
// plan that stream does not hold. The tool compares "database.table" as a whole string with the
// names it lists, so a name's bytes pass exactly, dots and all.
func IgnoreArguments(plan []Stream, stream string) []string {
	var args []string
	for _, s := range plan {
		if s.Name == stream {
			continue
		}
		for _, t := range s.Tables {
			args = append(args, "--ignore-table="+t.Database+"."+t.Name)
		}
	}
	return args
}
