"""Training: distill (run.py) and finetune (finetune.py) share one loop (train.Trainer) driven by an objective
(objectives.py: Finetune, TaskKD, MLMKD, HiddenCosine) built from losses.py; config.py holds TrainConfig, workdir.py
the checkpoint folder and the final move into place; data.py reads files, metrics.py scores them, heldout.py scores
during training, evaluate.py is `edgebert eval`; student.py maps a teacher's layers onto a DistilBERT student."""
