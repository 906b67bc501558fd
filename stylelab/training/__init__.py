"""Training, shared by every model of the book: one Trainer, one recipe per model.

    trainer.py  the model-agnostic `Trainer`: checkpoints, exact resume, logs, samples
    recipes.py  how each model is built from its config.json (one function per model)
    runs.py     run folders and lineage (`--init-from` chains, the retrain command)
    distributed.py  torchrun: ranks, the process group, batch shards, DDP around model.loss
    logs.py     reading a run's log.jsonl, across its chain of fine-tuning stages
    data.py     training data: bundled photos and procedural paintings (plus a folder)
    folders.py  the papers' data path: two folders, DataLoader workers, per-process shares
    zoo.py      shipped book-size models: `zoo.load(name)` verifies and builds them

`stylelab train MODEL` (stylelab.cli.train) drives them.
"""
