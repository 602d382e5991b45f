//go:build !linux

package supervisor

func prefaultImage() error { return nil }
