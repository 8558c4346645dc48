"""Training runs: the run-folder layout, seeding and strategies, callbacks, and the
``pretrain`` / ``train`` / ``sweep-alpha`` commands that write run folders."""
