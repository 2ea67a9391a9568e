// Package train owns a continual-learning run: it builds the stream, model,
// optimiser and regulariser from a Config, trains task after task, writes
// metrics.jsonl, tasks.jsonl and summary.json, and checkpoints so that a run
// stopped at any point resumes to exactly the numbers of an uninterrupted one.
//
// It also owns the table of a Config's knobs (knobs.go): each setting's
// config key, flag, help and check, from which `lot run` registers its
// flags, config files are read (missing keys keep their defaults), and the
// config hash is formed (the schema version and the keys off their
// defaults, so that adding a knob keeps existing run directories valid).
//
// Every random draw comes from a stream named by (seed, purpose, indices)
// (package rng), so a checkpoint only needs the weights, the optimiser state
// and the position (task, epoch, batch) to continue bit for bit.
package train
