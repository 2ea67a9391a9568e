// Package train owns a continual-learning run: it builds the stream, model,
// optimiser and regulariser from a Config, trains task after task, writes
// metrics.jsonl, tasks.jsonl and summary.json, and checkpoints so that a run
// stopped at any point resumes to exactly the numbers of an uninterrupted one.
//
// Every random draw comes from a stream named by (seed, purpose, indices)
// (package rng), so a checkpoint only needs the weights, the optimiser state
// and the position (task, epoch, batch) to continue bit for bit.
package train
