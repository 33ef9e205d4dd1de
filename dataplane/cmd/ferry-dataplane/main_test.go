package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestProfiledWritesACPUProfileOnlyWhenAsked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	t.Setenv("FERRY_CPU_PROFILE", "")
	ran := false
	if err := profiled(func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("without FERRY_CPU_PROFILE: ran %v, %v", ran, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a profile was written without being asked: %v", err)
	}
	t.Setenv("FERRY_CPU_PROFILE", path)
	failure := errors.New("the step's own failure")
	if err := profiled(func() error { return failure }); !errors.Is(err, failure) {
		t.Fatalf("the step's error did not pass through: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Size() == 0 {
		t.Fatalf("no profile at FERRY_CPU_PROFILE: %v", err)
	}
	t.Setenv("FERRY_CPU_PROFILE", filepath.Join(path, "not-a-directory", "cpu.pprof"))
	if err := profiled(func() error { return nil }); err == nil {
		t.Fatal("an unwritable profile path was not refused")
	}
}
