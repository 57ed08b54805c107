//go:build race

package shard

// raceEnabled scales the largest randomized tests down: the race detector
// makes them several times slower.
const raceEnabled = true
