package main

import "testing"

func TestGrantsReplication(t *testing.T) {
	cases := []struct {
		name   string
		grants []string
		want   bool
	}{
		{"MariaDB's replication account", []string{"GRANT REPLICATION SLAVE ON *.* TO `repl`@`%` IDENTIFIED BY PASSWORD '*AB' REQUIRE SSL"}, true},
		{"MySQL's, among others", []string{"GRANT USAGE ON *.* TO `repl`@`%`", "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `repl`@`%`"}, true},
		{"all privileges", []string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`%` WITH GRANT OPTION"}, true},
		{"a role, which may carry it", []string{"GRANT USAGE ON *.* TO `repl`@`%`", "GRANT `replicator` TO `repl`@`%`"}, true},
		{"usage only", []string{"GRANT USAGE ON *.* TO `repl`@`%` REQUIRE SSL"}, false},
		{"replication client is not replication slave", []string{"GRANT REPLICATION CLIENT ON *.* TO `repl`@`%`"}, false},
		{"all privileges on one database only", []string{"GRANT USAGE ON *.* TO `app`@`%`", "GRANT ALL PRIVILEGES ON `shop`.* TO `app`@`%`"}, false},
		{"nothing", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := grantsReplication(c.grants); got != c.want {
				t.Fatalf("grantsReplication(%q) = %v, want %v", c.grants, got, c.want)
			}
		})
	}
}
