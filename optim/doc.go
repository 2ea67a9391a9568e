// Package optim owns the optimisers: Adam, exactly as torch.optim.Adam
// (coupled weight decay, bias correction, eps outside the square root), and
// SGD with momentum, as torch.optim.SGD.
//
// As in torch.optim, parameters come in groups, here one per layer, and each
// group has its own learning rate, which a scheduler may change between
// steps, and, for Adam, its own betas, which a BetaSchedule may change
// between steps ("fixed" keeps them; "authors-ramp" is the ramp the
// authors' public code applies). Optimiser state can be reset (the
// reset-optimizer baseline) and saved to and restored from a checkpoint.
package optim
